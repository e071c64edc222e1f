// What the app and the notification service extension must agree on: the App Group holding
// the vault, and the keychain group holding its key. One file, compiled into both targets
// (project.yml lists it in the extension's sources).
import Foundation

/// Identifiers shared with the notification service extension (see project.yml).
enum Shared {
    static let appGroup = "group.org.assent.app"
    /// The keychain access group; the team prefix comes from the provisioning profile.
    static var keychainGroup: String {
        (Bundle.main.object(forInfoDictionaryKey: "AssentKeychainGroup") as? String) ?? "org.assent.shared"
    }
    static var vaultPath: String? {
        FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: appGroup)?
            .appendingPathComponent("vault.assent").path
    }
}
