from fidelcli.cli.app import main

main()
