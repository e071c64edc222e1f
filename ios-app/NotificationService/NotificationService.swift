// The notification service extension: opens the pushed challenge read-only from the vault in
// the App Group container (key from the shared Keychain) and rewrites the notification with the
// application, browser and OS, IP and place. Never the number to type.
import AssentKit
import Foundation
import UserNotifications

final class NotificationService: UNNotificationServiceExtension {
    private var contentHandler: ((UNNotificationContent) -> Void)?
    private var best: UNMutableNotificationContent?

    override func didReceive(_ request: UNNotificationRequest,
                             withContentHandler contentHandler: @escaping (UNNotificationContent) -> Void) {
        self.contentHandler = contentHandler
        guard let content = request.content.mutableCopy() as? UNMutableNotificationContent else {
            contentHandler(request.content)
            return
        }
        best = content
        let built: NotificationContent
        if let path = Shared.vaultPath {
            let key = StoredVaultKey(secrets: Keychain(accessGroup: Shared.keychainGroup),
                                     random: nil)
            built = NotificationContentBuilder.content(userInfo: request.content.userInfo,
                                                       vaultPath: path, key: key)
        } else {
            built = NotificationContentBuilder.fallback(
                for: AssentError.Storage(message: "The shared folder is missing."))
        }
        apply(built, to: content)
        contentHandler(content)
    }

    override func serviceExtensionTimeWillExpire() {
        // Out of time: the generic text the relay sent ("Sign-in request") stays.
        if let contentHandler, let best { contentHandler(best) }
    }

    private func apply(_ built: NotificationContent, to content: UNMutableNotificationContent) {
        content.title = built.title
        content.subtitle = built.subtitle
        content.body = built.body
        content.categoryIdentifier = built.categoryIdentifier
        content.threadIdentifier = built.threadIdentifier
        if let id = built.challengeId { content.userInfo["challenge_id"] = id }
        if built.timeSensitive { content.interruptionLevel = .timeSensitive }
    }
}
