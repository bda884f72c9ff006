"""Time IntelMQ's Shadowserver parser bot on one CSV, in memory, and print JSON figures.

Run by ``bench_shadowserver.py`` with the Python of a separate virtualenv that holds
IntelMQ (AGPL-3.0: it is installed and called, never copied). IntelMQ 3.2.1 keeps its
Shadowserver mapping in ``intelmq/bots/parsers/shadowserver/_config.py`` (the
downloadable ``schema.json`` arrived in later releases), so nothing is fetched. The bot
is built by IntelMQ's own test harness (``intelmq.lib.test.BotTestCase``) with the
in-memory ``Pythonlist`` pipeline; only ``bot.start()`` is timed, not the harness's
checks of every output event.

Usage: python intelmq_runner.py CSV_PATH FILE_NAME
"""

from __future__ import annotations

import base64
import json
import sys
import time
import unittest
from unittest import mock


def main() -> None:
    csv_path, file_name = sys.argv[1], sys.argv[2]
    import intelmq.lib.utils as utils

    # the harness refuses to run as root unless it can drop to an 'intelmq' user
    utils.drop_privileges = lambda: True
    import intelmq.lib.test as harness
    from intelmq.bots.parsers.shadowserver.parser import ShadowserverParserBot

    with open(csv_path, "rb") as handle:
        raw = base64.b64encode(handle.read()).decode("ascii")

    class Bench(harness.BotTestCase, unittest.TestCase):
        @classmethod
        def set_bot(cls) -> None:
            cls.bot_reference = ShadowserverParserBot
            cls.sysconfig = {"logging_level": "ERROR"}

        def runTest(self) -> None:  # noqa: N802 - unittest's name
            pass

    Bench.setUpClass()
    case = Bench()
    case.input_message = {
        "__type": "Report",
        "raw": raw,
        "extra.file_name": file_name,
        "feed.name": "Shadowserver",
        "time.observation": "2026-01-15T00:00:00+00:00",
    }
    case.prepare_bot()
    with mock.patch("intelmq.lib.utils.load_configuration", new=case.mocked_config), \
            mock.patch("intelmq.lib.utils.log", case.get_mocked_logger(case.logger)):
        started = time.perf_counter()
        case.bot.start(error_on_pipeline=False, source_pipeline=case.pipe, destination_pipeline=case.pipe)
        elapsed = time.perf_counter() - started
    events = case.get_output_queue()
    sample = json.loads(events[0]) if events else {}
    print(json.dumps({
        "events": len(events),
        "seconds": elapsed,
        "sample": {k: sample.get(k) for k in ("source.ip", "time.source", "classification.type", "classification.identifier")},
        "log_tail": case.log_stream.getvalue().splitlines()[-3:],
    }))


if __name__ == "__main__":
    main()
