#!/usr/bin/env python3
"""The quickstart loop, written the way people write it today: one requests Session (keep-alive), json and
sqlite3, one transaction per page. ditio-bench runs it as the baseline that ditio-sync's CPU per record is
compared with (issue 7); it is not part of ditio-sync.

    quickstart_loop.py --identity-base URL --reporting-base URL --client-id ID --ca CA.pem --db FILE
                       --from ISO --to ISO [--chunk-limit N]

The client secret comes from the environment (DITIO_CLIENT_SECRET). Prints the number of rows in the
table at the end.
"""

import argparse
import json
import os
import sqlite3
import sys

import requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identity-base", required=True)
    parser.add_argument("--reporting-base", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--scope", default="reportingapiv1")
    parser.add_argument("--ca", required=True, help="CA file to verify the server's certificate with")
    parser.add_argument("--db", required=True)
    parser.add_argument("--from", dest="from_", required=True, help="FromDateTime")
    parser.add_argument("--to", required=True, help="ToDateTime")
    parser.add_argument("--chunk-limit", type=int, default=10000)
    args = parser.parse_args()

    session = requests.Session()
    # verify= on each call: a Session's own verify loses to REQUESTS_CA_BUNDLE (requests issue 3829).
    verify = args.ca

    token = session.post(
        f"{args.identity_base}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": args.client_id,
            "client_secret": os.environ["DITIO_CLIENT_SECRET"],
            "scope": args.scope,
        },
        verify=verify,
        timeout=60,
    )
    token.raise_for_status()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    db = sqlite3.connect(args.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS time_registrations ("
        " id TEXT PRIMARY KEY, modified_at TEXT, data TEXT NOT NULL)"
    )
    db.commit()

    url = f"{args.reporting_base}/v1/time-registrations"
    params = {"FromDateTime": args.from_, "ToDateTime": args.to, "ChunkLimit": args.chunk_limit}
    while True:
        response = session.get(url, params=params, verify=verify, timeout=120)
        response.raise_for_status()
        page = response.json()
        with db:  # one transaction per page
            for record in page["data"]:
                db.execute(
                    "INSERT INTO time_registrations (id, modified_at, data) VALUES (?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET modified_at = excluded.modified_at, data = excluded.data",
                    (record["id"], record["modifiedDateTime"], json.dumps(record)),
                )
        continuation = page.get("continuationToken")
        if not continuation:
            break
        # The same query every page, plus the token.
        params["ContinuationToken"] = continuation

    rows = db.execute("SELECT count(*) FROM time_registrations").fetchone()[0]
    db.close()
    print(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
