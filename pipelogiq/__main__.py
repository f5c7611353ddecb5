from pipelogiq.cli import main

raise SystemExit(main())
