from fidelcli.cli import main

main()
