// What AssentKit needs from the platform, as protocols: the app implements them with UIKit,
// LocalAuthentication, the Keychain and UserNotifications; the tests with plain Swift.
import Foundation

/// The system pasteboard. The iOS implementation writes a `.localOnly` item (never Universal
/// Clipboard) that expires after `expiresAfter` seconds.
public protocol Pasteboard: AnyObject {
    func copy(_ text: String, expiresAfter seconds: TimeInterval)
}

/// What Face ID / Touch ID / the passcode said.
public enum VerificationResult: Sendable, Equatable {
    /// The user is who unlocked the phone.
    case verified
    /// The user cancelled or failed.
    case refused
    /// No biometry nor passcode is set up.
    case unavailable
}

/// LocalAuthentication (`LAContext.evaluatePolicy(.deviceOwnerAuthentication)` on iOS).
public protocol Biometrics: Sendable {
    func verify(reason: String) async -> VerificationResult
}

/// A small secret kept by the platform: the Keychain on iOS (after first unlock, this device
/// only, in the access group the extension shares).
public protocol SecretStore: Sendable {
    func read(_ name: String) throws -> Data?
    func write(_ name: String, _ value: Data) throws
}

/// Where notifications go: `UNUserNotificationCenter` on iOS.
public protocol Notifications: Sendable {
    /// Asks for permission to alert (after the first enrollment, not at first launch).
    func requestPermission() async -> Bool
    /// Removes a delivered notification of a challenge that was answered or closed.
    func removeDelivered(challengeId: String) async
}

/// The vault key, created on first use and kept in the `SecretStore`. Shared by the app and the
/// notification service extension (which reads it only: it never creates a vault).
public final class StoredVaultKey: VaultKeyProvider {
    public static let itemName = "vault-key"
    private let secrets: SecretStore
    private let random: (@Sendable (Int) -> Data)?

    /// `random` draws n bytes (SecRandomCopyBytes on iOS); nil reads only, as the extension does.
    public init(secrets: SecretStore, random: (@Sendable (Int) -> Data)?) {
        self.secrets = secrets
        self.random = random
    }

    public func vaultKey() throws -> Data {
        let stored: Data?
        do {
            stored = try secrets.read(Self.itemName)
        } catch let error as KeystoreError {
            throw error
        } catch {
            throw KeystoreError.Unavailable(reason: "The Keychain could not be read.")
        }
        if let stored { return stored }
        guard let random else {
            throw KeystoreError.Unavailable(reason: "Open Assent once to set it up.")
        }
        let key = random(32)
        do {
            try secrets.write(Self.itemName, key)
        } catch let error as KeystoreError {
            throw error
        } catch {
            throw KeystoreError.Unavailable(reason: "The Keychain could not be written.")
        }
        return key
    }
}

/// The system clock, for the approval countdown in the app and the extension.
public final class SystemClock: Clock {
    public init() {}
    public func nowUnixSeconds() -> UInt64 { UInt64(Date().timeIntervalSince1970) }
}
