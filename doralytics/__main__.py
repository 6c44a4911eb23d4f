from doralytics.cli import main

main()
