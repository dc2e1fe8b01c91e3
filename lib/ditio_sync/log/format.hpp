// How log lines are written; its own header so that configuration can name it without the logger.
#pragma once

namespace ditio_sync::log {

enum class format { json, text };

} // namespace ditio_sync::log
