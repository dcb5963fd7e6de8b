import Network

/// The network dialects read the guest through the context, so they see earlier proposals
/// (a file another rule already edited, a backup already moved aside).
extension RuleContext: GuestFileReader {}
