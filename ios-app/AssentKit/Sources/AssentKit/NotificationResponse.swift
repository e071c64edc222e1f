// What the app does when the user answers from the notification itself: Approve (with the
// number typed into its text field), Deny, or Not me.
import Foundation

public enum NotificationResponder {
    /// Opens the notification's challenge and answers it as the action says, through the same
    /// approval processor as the screen (so user verification and expiry work the same way).
    /// Returns the approval's final state; nil when the notification carries no challenge or
    /// the action is not one of ours (the app then opens the approval screen).
    public static func respond(
        actionIdentifier: String, typedText: String?, userInfo: [AnyHashable: Any],
        store: Store, transport: PortalTransport, biometrics: Biometrics, clock: Clock,
        alwaysVerify: Bool
    ) async -> ApprovalState? {
        guard let action = ChallengeAction(rawValue: actionIdentifier),
              let payload = NotificationContentBuilder.payload(in: userInfo),
              let view = try? store.openChallenge(payload: payload) else { return nil }
        let approval = ApprovalProcessor(challenge: view, store: store, transport: transport,
                                         biometrics: biometrics, clock: clock, alwaysVerify: alwaysVerify)
        switch action {
        case .approve:
            approval.receive(.setNumber(typedText ?? ""))
            await approval.perform(.approve)
        case .deny:
            await approval.perform(.deny(notMe: false))
        case .notMe:
            await approval.perform(.deny(notMe: true))
        }
        return approval.state
    }
}
