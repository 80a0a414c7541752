from dlcanon.cli import main

raise SystemExit(main())
