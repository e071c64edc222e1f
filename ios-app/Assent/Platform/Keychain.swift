// The Keychain as AssentKit's SecretStore: generic passwords, readable after the first unlock,
// on this device only, in the access group the notification service extension shares.
import AssentKit
import Foundation
import Security

struct Keychain: SecretStore {
    /// `$(AppIdentifierPrefix)org.assent.shared`, from the entitlements.
    let accessGroup: String
    let service = "org.assent.vault"

    func read(_ name: String) throws -> Data? {
        var query = base(name)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess: return item as? Data
        case errSecItemNotFound: return nil
        default: throw KeystoreError.Unavailable(reason: Keychain.reason(status))
        }
    }

    func write(_ name: String, _ value: Data) throws {
        var query = base(name)
        query[kSecValueData as String] = value
        query[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(query as CFDictionary, nil)
        guard status == errSecSuccess else {
            throw KeystoreError.Unavailable(reason: Keychain.reason(status))
        }
    }

    private func base(_ name: String) -> [String: Any] {
        [kSecClass as String: kSecClassGenericPassword,
         kSecAttrService as String: service,
         kSecAttrAccount as String: name,
         kSecAttrAccessGroup as String: accessGroup,
         kSecUseDataProtectionKeychain as String: true]
    }

    static func reason(_ status: OSStatus) -> String {
        if status == errSecInteractionNotAllowed {
            return "The phone has not been unlocked since it started. Unlock it and try again."
        }
        return "The Keychain refused the request (\(status))."
    }
}

/// Random bytes for a new vault key.
func secureRandom(_ count: Int) -> Data {
    var bytes = [UInt8](repeating: 0, count: count)
    let status = SecRandomCopyBytes(kSecRandomDefault, count, &bytes)
    precondition(status == errSecSuccess, "SecRandomCopyBytes failed")
    return Data(bytes)
}
