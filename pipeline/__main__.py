import sys

try:
    from pipeline.cli import main
except KeyboardInterrupt:  # a Ctrl-C before main() can say so itself
    print("paperbrief: interrupted; everything finished is cached", file=sys.stderr)
    exec("")  # clears CPython's mark of an unhandled KeyboardInterrupt: see cli.main
    sys.exit(130)

sys.exit(main())
