// The composition root: the vault in the App Group container, its key in the shared Keychain,
// the device key in the Secure Enclave, URLSession to the portals, and the push coordinator.
import AssentKit
import Foundation

@MainActor
final class AppEnvironment {
    let store: Store
    let transport: PortalTransport = URLSessionPortalTransport()
    let pasteboard = SystemPasteboard()
    let biometrics = DeviceOwnerAuthentication()
    let notifications = SystemNotifications()
    let preferences = GroupPreferences(suiteName: Shared.appGroup)
    let push: PushCoordinator

    init() throws {
        guard let path = Shared.vaultPath else {
            throw AssentError.Storage(message: "The app's shared folder is missing. Reinstall Assent.")
        }
        let key = StoredVaultKey(secrets: Keychain(accessGroup: Shared.keychainGroup), random: secureRandom)
        store = try Store.open(path: path, key: key,
                               keystore: SecureEnclaveKeystore(accessGroup: Shared.keychainGroup), clock: nil)
        #if DEBUG
        let sandbox = true
        #else
        let sandbox = false
        #endif
        push = PushCoordinator(store: store, transport: transport, preferences: preferences,
                               topic: Bundle.main.bundleIdentifier, sandbox: sandbox)
    }

    var settings: AppSettings { AppSettings.load(preferences) }

    var enroller: Enroller {
        #if targetEnvironment(simulator)
        let hardware = false
        #else
        let hardware = true
        #endif
        return Enroller(store: store, transport: transport, deviceName: deviceName, hardwareKey: hardware)
    }

    private var deviceName: String { ProcessInfo.processInfo.hostName }
}
