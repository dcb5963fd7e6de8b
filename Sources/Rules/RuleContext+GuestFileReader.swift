import Network

/// Dialects read the guest as the plan so far would leave it, so a rule hands them its context.
extension RuleContext: GuestFileReader {}
