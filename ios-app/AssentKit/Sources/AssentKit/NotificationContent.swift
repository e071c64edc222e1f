// What a sign-in notification says: built from the challenge, in the notification service
// extension (peekChallenge) and the app alike. It never shows the number to type.
import Foundation

/// The category whose actions are Approve (text input), Deny and Not me.
public let challengeCategory = "ASSENT_CHALLENGE"

/// The action identifiers of that category.
public enum ChallengeAction: String, Sendable, CaseIterable {
    case approve = "ASSENT_APPROVE"
    case deny = "ASSENT_DENY"
    case notMe = "ASSENT_NOT_ME"
}

/// The key of the challenge JWS in the APNs payload (push-relay/src/apns.rs).
public let payloadKey = "assent"

/// The text of a notification, as UNMutableNotificationContent takes it.
public struct NotificationContent: Equatable, Sendable {
    public var title: String
    public var subtitle: String
    public var body: String
    public var categoryIdentifier: String
    /// Groups the notifications of one account.
    public var threadIdentifier: String
    /// The challenge id, for removing the notification once answered.
    public var challengeId: String?
    /// True for sign-in requests (time-sensitive, so Focus does not hold them back).
    public var timeSensitive: Bool
}

public enum NotificationContentBuilder {
    /// The content for an opened challenge.
    public static func content(for view: ChallengeView) -> NotificationContent {
        let title: String
        switch view.purpose {
        case .login: title = "Sign in to \(view.application)?"
        case .stepUp: title = "Confirm it's you in \(view.application)"
        case .passwordReset: title = "Reset your \(view.application) password?"
        case .activate: title = "Activate this phone"
        }
        var lines: [String] = []
        let device = [view.browser, view.os].compactMap { $0 }.filter { !$0.isEmpty }
        if !device.isEmpty { lines.append(device.joined(separator: " on ")) }
        let place = [view.location, view.ip.map { "IP \($0)" }].compactMap { $0 }.filter { !$0.isEmpty }
        if !place.isEmpty { lines.append(place.joined(separator: " · ")) }
        if view.numberDigits != nil {
            lines.append("Approve, then type the number shown on the sign-in page.")
        }
        return NotificationContent(
            title: title, subtitle: view.user.isEmpty ? view.account : view.user,
            body: lines.joined(separator: "\n"), categoryIdentifier: challengeCategory,
            threadIdentifier: view.account, challengeId: view.id, timeSensitive: true)
    }

    /// The content shown when the challenge cannot be opened: the request is gone, or the
    /// vault is locked (before first unlock).
    public static func fallback(for error: Error) -> NotificationContent {
        let body: String
        if case AssentError.RequestClosed? = error as? AssentError {
            body = "This sign-in request is no longer open."
        } else {
            body = "Open Assent to see this sign-in request."
        }
        return NotificationContent(
            title: "Sign-in request", subtitle: "", body: body,
            categoryIdentifier: challengeCategory, threadIdentifier: "assent",
            challengeId: nil, timeSensitive: true)
    }

    /// The challenge JWS inside an APNs payload (`userInfo`), if there is one.
    public static func payload(in userInfo: [AnyHashable: Any]) -> String? {
        userInfo[payloadKey] as? String
    }

    /// The extension's whole job: the payload opened read-only from the vault at `vaultPath`
    /// (in the App Group container) with `key`, as notification text.
    public static func content(userInfo: [AnyHashable: Any], vaultPath: String,
                               key: VaultKeyProvider, clock: Clock? = nil) -> NotificationContent {
        guard let payload = payload(in: userInfo) else {
            return fallback(for: AssentError.InvalidInput(message: "There is no sign-in request in this notification."))
        }
        do {
            let view = try peekChallenge(path: vaultPath, key: key, payload: payload, clock: clock)
            return content(for: view)
        } catch {
            return fallback(for: error)
        }
    }
}
