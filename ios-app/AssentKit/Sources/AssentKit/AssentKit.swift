// The app imports AssentKit only: it brings the generated bindings along.
@_exported import AssentCore

extension AssentError {
    /// The sentence to show the user. (The generated `localizedDescription` is uniffi's
    /// `String(reflecting:)` dump, `AssentError.Storage(message: "...")`: do not show that.)
    public var message: String {
        switch self {
        case .InvalidInput(let message), .PasswordRequired(let message),
            .WrongPassword(let message), .RequestClosed(let message),
            .PlatformKey(let message), .Storage(let message), .PortalReply(let message),
            .NeedsConfirmation(let message):
            return message
        }
    }
}
