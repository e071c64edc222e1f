// The device signing key in the Secure Enclave (a software key in the Keychain on the
// simulator, which has no Secure Enclave): AssentCore's DeviceKeystore.
import AssentKit
import Foundation
import Security

final class SecureEnclaveKeystore: DeviceKeystore {
    let accessGroup: String

    init(accessGroup: String) { self.accessGroup = accessGroup }

    func createKey(alias: String) throws -> Data {
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, [.privateKeyUsage], &error)
        else { throw failure(error, "The key's access control could not be made.") }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: Data(alias.utf8),
                kSecAttrAccessControl as String: access,
                kSecAttrAccessGroup as String: accessGroup,
            ] as [String: Any],
        ]
        #if !targetEnvironment(simulator)
        attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        #endif
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw failure(error, "The Secure Enclave could not make a key.")
        }
        guard let publicKey = SecKeyCopyPublicKey(key),
              let point = SecKeyCopyExternalRepresentation(publicKey, &error) as Data?
        else { throw failure(error, "The public key could not be read.") }
        return point // 04 ‖ x ‖ y
    }

    func sign(alias: String, message: Data) throws -> Data {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: Data(alias.utf8),
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrAccessGroup as String: accessGroup,
            kSecReturnRef as String: true,
        ]
        var item: CFTypeRef?
        guard SecItemCopyMatching(query as CFDictionary, &item) == errSecSuccess,
              let found = item, CFGetTypeID(found) == SecKeyGetTypeID()
        else {
            throw KeystoreError.Unavailable(reason: "This phone's signing key is gone. Enroll it again.")
        }
        let key = unsafeDowncast(found, to: SecKey.self) // its type id was checked above
        var error: Unmanaged<CFError>?
        guard let signature = SecKeyCreateSignature(
            key, .ecdsaSignatureMessageX962SHA256, message as CFData, &error) as Data?
        else { throw failure(error, "The Secure Enclave did not sign.") }
        return signature // DER
    }

    private func failure(_ error: Unmanaged<CFError>?, _ fallback: String) -> KeystoreError {
        _ = error?.takeRetainedValue()
        return KeystoreError.Unavailable(reason: fallback)
    }
}
