#!/usr/bin/env python3
"""Totals the outcomes in every TRX file under a results folder and prints one summary line.

Exit status: 0 when tests ran and none failed, 1 otherwise (including "no test ran at all")."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"

def main(folder: str) -> int:
    passed = failed = skipped = 0
    failures = []
    for trx in sorted(Path(folder).rglob("*.trx")):
        for result in ET.parse(trx).getroot().iter(NS + "UnitTestResult"):
            outcome = result.get("outcome")
            if outcome == "Passed":
                passed += 1
            elif outcome == "NotExecuted":
                skipped += 1
            else:
                failed += 1
                failures.append(f"{trx.stem}: {result.get('testName')}")
    for name in failures:
        print(f"FAILED {name}")
    print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and passed > 0 else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "TestResults"))
