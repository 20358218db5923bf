#!/usr/bin/env python3
"""Count test results in a Meson build's meson-logs/testlog.json.

Usage: testlog-summary.py BUILDDIR [LOGBASE]   (default LOGBASE: testlog)

TAP tests count one result per top-level "ok" / "not ok" line; other tests
(exitcode protocol) count one result each. A TAP test that fails without a
"not ok" line (crash, bail out, wrong plan) adds one failure, and so does a
sanitizer report in any test's output. Skips count as passed.

Prints human-readable notes on stderr and, as the last line on stdout,
"PASSED FAILED SKIPPED TODO".
"""

import json
import os
import re
import sys

OK_RE = re.compile(r'^ok(\s|$)')
NOT_OK_RE = re.compile(r'^not ok(\s|$)')
SKIP_RE = re.compile(r'#\s*skip', re.IGNORECASE)
TODO_RE = re.compile(r'#\s*todo', re.IGNORECASE)
SANITIZER_RE = re.compile(
    r'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)'
    r'|^\S.*:\d+:\d+: runtime error: '
    r'|WARNING: ThreadSanitizer', re.MULTILINE)
GOOD_RESULTS = {'OK', 'EXPECTEDFAIL'}
SKIP_RESULTS = {'SKIP'}


def load_protocols(builddir):
    """Map test name -> protocol from meson-info/intro-tests.json."""
    path = os.path.join(builddir, 'meson-info', 'intro-tests.json')
    try:
        with open(path, encoding='utf-8') as f:
            return {t['name']: t.get('protocol', 'exitcode') for t in json.load(f)}
    except (OSError, ValueError):
        return {}


def looks_like_tap(stdout):
    return any(OK_RE.match(l) or NOT_OK_RE.match(l) or l.startswith('1..')
               for l in stdout.splitlines())


def main():
    builddir = sys.argv[1]
    protocols = load_protocols(builddir)
    passed = failed = skipped = todo = 0
    logbase = sys.argv[2] if len(sys.argv) > 2 else 'testlog'
    path = os.path.join(builddir, 'meson-logs', logbase + '.json')
    with open(path, encoding='utf-8', errors='replace') as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            t = json.loads(raw)
            name = t.get('name', '?')
            result = t.get('result', 'ERROR')
            stdout = t.get('stdout') or ''
            stderr = t.get('stderr') or ''
            short = name.split(' / ')[-1]
            protocol = protocols.get(name) or protocols.get(short)
            is_tap = protocol == 'tap' if protocol else looks_like_tap(stdout)
            t_failed = 0
            if is_tap:
                for line in stdout.splitlines():
                    if OK_RE.match(line) or NOT_OK_RE.match(line):
                        if SKIP_RE.search(line):
                            passed += 1
                            skipped += 1
                        elif TODO_RE.search(line):
                            passed += 1
                            todo += 1
                        elif OK_RE.match(line):
                            passed += 1
                        else:
                            failed += 1
                            t_failed += 1
                            print(f'  FAIL {name}: {line}', file=sys.stderr)
                if result in SKIP_RESULTS and not looks_like_tap(stdout):
                    passed += 1
                    skipped += 1
                elif (result not in GOOD_RESULTS | SKIP_RESULTS
                      and t_failed == 0):
                    failed += 1
                    t_failed += 1
                    print(f'  FAIL {name}: test program result {result} '
                          f'(exit status {t.get("returncode")})',
                          file=sys.stderr)
            else:
                if result in GOOD_RESULTS:
                    passed += 1
                elif result in SKIP_RESULTS:
                    passed += 1
                    skipped += 1
                else:
                    failed += 1
                    t_failed += 1
                    print(f'  FAIL {name}: {result} '
                          f'(exit status {t.get("returncode")})',
                          file=sys.stderr)
            if SANITIZER_RE.search(stdout) or SANITIZER_RE.search(stderr):
                print(f'  sanitizer report in {name}', file=sys.stderr)
                if t_failed == 0:
                    failed += 1
                    if passed > 0 and not is_tap:
                        passed -= 1
    print(passed, failed, skipped, todo)


if __name__ == '__main__':
    main()
