// The push side of the app: the APNs token sent to every portal when it changes, a payload
// turned into a challenge, and pending requests pulled when the app comes to the foreground.
import Foundation

/// Keeps small app values (UserDefaults on iOS).
public protocol Preferences: AnyObject {
    func data(forKey key: String) -> Data?
    func set(_ data: Data?, forKey key: String)
}

public final class PushCoordinator {
    static let sentTokenKey = "push.sent-apns-token"
    private let store: Store
    private let transport: PortalTransport
    private let preferences: Preferences
    /// The app's bundle id (the APNs topic); nil when the portal's relay serves one app.
    private let topic: String?
    /// True for development builds (APNs sandbox).
    private let sandbox: Bool
    /// The current APNs token, hex; nil until iOS gives one.
    public private(set) var token: String?

    public init(store: Store, transport: PortalTransport, preferences: Preferences,
                topic: String?, sandbox: Bool) {
        self.store = store
        self.transport = transport
        self.preferences = preferences
        self.topic = topic
        self.sandbox = sandbox
        token = preferences.data(forKey: Self.sentTokenKey).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Where pushes reach this device now, for an enrollment; nil before iOS gave a token.
    public var address: PushAddress? {
        token.map { .apns(token: $0, sandbox: sandbox, topic: topic) }
    }

    /// `application(_:didRegisterForRemoteNotificationsWithDeviceToken:)`: sends the token to
    /// every active enrollment when it differs from the one sent last. Returns the device ids
    /// updated; one failing does not stop the others (it is tried again next launch).
    @discardableResult
    public func tokenChanged(_ deviceToken: Data) async -> [String] {
        let hex = deviceToken.map { String(format: "%02x", $0) }.joined()
        token = hex
        let sent = preferences.data(forKey: Self.sentTokenKey).map { String(decoding: $0, as: UTF8.self) }
        guard sent != hex else { return [] }
        let accounts = (try? store.pushAccounts().filter(\.active)) ?? []
        var updated: [String] = []
        var failed = false
        for account in accounts {
            do {
                let request = try store.updatePushAddress(
                    deviceId: account.deviceId, push: .apns(token: hex, sandbox: sandbox, topic: topic))
                _ = try await transport.send(request)
                updated.append(account.deviceId)
            } catch {
                failed = true
            }
        }
        if !failed { preferences.set(Data(hex.utf8), forKey: Self.sentTokenKey) }
        return updated
    }

    /// Opens the challenge a notification carries (its `userInfo`).
    public func challenge(fromNotification userInfo: [AnyHashable: Any]) throws -> ChallengeView {
        guard let payload = NotificationContentBuilder.payload(in: userInfo) else {
            throw AssentError.InvalidInput(message: "There is no sign-in request in this notification.")
        }
        return try store.openChallenge(payload: payload)
    }

    /// On foreground: the requests pending at every active enrollment's portal, opened. A
    /// request already answered here or expired is left out; a portal that cannot be reached
    /// is skipped.
    public func pullPending() async -> [ChallengeView] {
        let accounts = (try? store.pushAccounts().filter(\.active)) ?? []
        var open: [ChallengeView] = []
        for account in accounts {
            guard let request = try? store.pollRequest(deviceId: account.deviceId),
                  let body = try? await transport.send(request) else { continue }
            // The core reads the poll answer and opens each request in it.
            if let views = try? store.openPending(responseBody: body) { open.append(contentsOf: views) }
        }
        return open
    }
}
