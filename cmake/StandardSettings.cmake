# Project-wide build settings as an INTERFACE target, linked PRIVATE into our own targets only.
add_library(ditio_sync_settings INTERFACE)
target_compile_features(ditio_sync_settings INTERFACE cxx_std_20)
target_compile_definitions(ditio_sync_settings INTERFACE $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>)

option(DITIO_SYNC_SANITIZE_ADDRESS "Build with AddressSanitizer" OFF)
option(DITIO_SYNC_SANITIZE_UNDEFINED "Build with UndefinedBehaviorSanitizer" OFF)

set(_sanitizers "")
if(DITIO_SYNC_SANITIZE_ADDRESS)
    list(APPEND _sanitizers address)
endif()
if(DITIO_SYNC_SANITIZE_UNDEFINED)
    # GCC leaves float-cast-overflow out of "undefined": a server's 1e300 converted to an integer is UB too.
    list(APPEND _sanitizers undefined float-cast-overflow)
endif()
if(_sanitizers)
    list(JOIN _sanitizers "," _sanitizer_list)
    # Sanitizers must cover every object that shares state with ours, so they are set globally.
    add_compile_options(-fsanitize=${_sanitizer_list} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${_sanitizer_list})
endif()
