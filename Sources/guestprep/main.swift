import GuestprepCLI
GuestprepCommand.main()
