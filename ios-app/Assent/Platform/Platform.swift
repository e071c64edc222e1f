// The Apple implementations of AssentKit's small protocols: UIPasteboard, LocalAuthentication,
// UserDefaults, UserNotifications.
import AssentKit
import Foundation
import LocalAuthentication
import UIKit
import UniformTypeIdentifiers
import UserNotifications

/// A copied code: local to this device (never Universal Clipboard) and gone after 30 s.
final class SystemPasteboard: Pasteboard {
    func copy(_ text: String, expiresAfter seconds: TimeInterval) {
        UIPasteboard.general.setItems(
            [[UTType.utf8PlainText.identifier: text]],
            options: [.localOnly: true, .expirationDate: Date().addingTimeInterval(seconds)])
    }
}

/// Face ID / Touch ID, falling back to the passcode.
struct DeviceOwnerAuthentication: Biometrics {
    func verify(reason: String) async -> VerificationResult {
        let context = LAContext()
        var error: NSError?
        guard context.canEvaluatePolicy(.deviceOwnerAuthentication, error: &error) else {
            return .unavailable
        }
        do {
            return try await context.evaluatePolicy(.deviceOwnerAuthentication, localizedReason: reason)
                ? .verified : .refused
        } catch {
            return .refused
        }
    }
}

/// UserDefaults in the App Group, so the extension sees the same settings.
final class GroupPreferences: Preferences {
    private let defaults: UserDefaults
    init(suiteName: String) { defaults = UserDefaults(suiteName: suiteName) ?? .standard }
    func data(forKey key: String) -> Data? { defaults.data(forKey: key) }
    func set(_ data: Data?, forKey key: String) { defaults.set(data, forKey: key) }
}

/// UNUserNotificationCenter: permission, and the category with Approve (type the number),
/// Deny and Not me, each only on an unlocked phone.
struct SystemNotifications: Notifications {
    static func registerCategory() {
        let approve = UNTextInputNotificationAction(
            identifier: ChallengeAction.approve.rawValue, title: "Approve",
            options: [.authenticationRequired],
            textInputButtonTitle: "Approve", textInputPlaceholder: "Number on the sign-in page")
        let deny = UNNotificationAction(
            identifier: ChallengeAction.deny.rawValue, title: "Deny",
            options: [.authenticationRequired, .destructive])
        let notMe = UNNotificationAction(
            identifier: ChallengeAction.notMe.rawValue, title: "Not me",
            options: [.authenticationRequired, .destructive])
        let category = UNNotificationCategory(
            identifier: challengeCategory, actions: [approve, deny, notMe], intentIdentifiers: [],
            options: [.hiddenPreviewsShowTitle])
        UNUserNotificationCenter.current().setNotificationCategories([category])
    }

    func requestPermission() async -> Bool {
        (try? await UNUserNotificationCenter.current()
            .requestAuthorization(options: [.alert, .sound, .badge, .timeSensitive])) ?? false
    }

    func removeDelivered(challengeId: String) async {
        let center = UNUserNotificationCenter.current()
        let delivered = await center.deliveredNotifications()
        let ids = delivered
            .filter { $0.request.content.userInfo["challenge_id"] as? String == challengeId }
            .map(\.request.identifier)
        center.removeDeliveredNotifications(withIdentifiers: ids)
    }
}
