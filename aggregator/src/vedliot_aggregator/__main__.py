from vedliot_aggregator.cli import main

main()
