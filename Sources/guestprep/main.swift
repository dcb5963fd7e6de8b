import GuestprepCLI

GuestprepCommand.runAndExit()
