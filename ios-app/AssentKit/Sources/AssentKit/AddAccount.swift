// Adding an account: a scanned QR (otpauth, or the portal's one QR that also enrolls push), a
// picture of a QR, or the key typed by hand.
import Foundation

/// The fields of the manual entry form.
public enum AccountField: String, Sendable, CaseIterable {
    case issuer, name, secret, kind, algorithm, digits, period, counter
}

public struct ManualEntry: Equatable, Sendable {
    public var issuer = ""
    public var name = ""
    public var secret = ""
    /// `totp`, `hotp` or `steam`.
    public var kind = "totp"
    public var algorithm = "SHA1"
    public var digits = "6"
    public var period = "30"
    public var counter = "0"
    public init() {}

    /// The otpauth URI the core validates.
    var uri: String {
        func encode(_ text: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
        let label = issuer.isEmpty ? encode(name) : "\(encode(issuer)):\(encode(name))"
        let secret = self.secret.filter { !$0.isWhitespace && $0 != "-" }.uppercased()
        var query = ["secret=\(encode(secret))", "algorithm=\(encode(algorithm))",
                     "digits=\(encode(digits))"]
        if !issuer.isEmpty { query.append("issuer=\(encode(issuer))") }
        if kind == "hotp" { query.append("counter=\(encode(counter))") } else { query.append("period=\(encode(period))") }
        return "otpauth://\(encode(kind))/\(label)?\(query.joined(separator: "&"))"
    }
}

public enum AddPhase: Equatable, Sendable {
    case editing
    case working
    /// An account was added (its id).
    case added(accountId: String)
    /// A picture or export file was imported (`AddAccountState.imported` says what).
    case imported
    /// The one QR was enrolled and the portal verified the device: the check mark.
    case enrolled(accountId: String, deviceId: String)
    /// An encrypted export needs its password.
    case needsPassword
}

public struct AddAccountState: Equatable, Sendable {
    public var phase: AddPhase = .editing
    public var entry = ManualEntry()
    /// The core's reason, next to the field it is about.
    public var fieldErrors: [AccountField: String] = [:]
    /// A sentence about the whole thing (a bad QR, a refused enrollment).
    public var error: String?
    public var imported: ImportReport?
    public init() {}
}

public enum AddAccountAction: Equatable, Sendable {
    case set(AccountField, String)
}

public enum AddAccountEffect: Equatable, Sendable {
    /// The camera read a QR.
    case scanned(String)
    /// A picture (screenshot) or an export file; `password` for encrypted ones.
    case picked(Data, password: String?)
    /// Save the manual entry.
    case saveEntry
}

/// Registers and activates a push enrollment over the transport.
public struct Enroller: Sendable {
    let store: Store
    let transport: PortalTransport
    let deviceName: String
    let hardwareKey: Bool

    public init(store: Store, transport: PortalTransport, deviceName: String, hardwareKey: Bool) {
        self.store = store
        self.transport = transport
        self.deviceName = deviceName
        self.hardwareKey = hardwareKey
    }

    /// The one QR: register, activate; returns the enrollment once the portal took the
    /// activation.
    public func enroll(qr: String, push: PushAddress) async throws -> Enrollment {
        let enrollment = try store.enroll(qr: qr, platform: .ios, deviceName: deviceName,
                                          push: push, hardwareKey: hardwareKey)
        let response = try await transport.send(enrollment.request)
        let activation = try store.activate(deviceId: enrollment.deviceId, responseBody: response)
        _ = try await transport.send(activation)
        return enrollment
    }
}

/// The one place the add screen's state changes.
public final class AddAccountProcessor {
    public private(set) var state = AddAccountState()
    private let store: Store
    private let enroller: Enroller?
    private let notifications: Notifications?
    private let pushAddress: () -> PushAddress?

    /// `enroller` and `pushAddress` enable the one QR with push; `notifications` is asked for
    /// permission when the portal verified the device.
    public init(store: Store, enroller: Enroller?, notifications: Notifications?,
                pushAddress: @escaping () -> PushAddress?) {
        self.store = store
        self.enroller = enroller
        self.notifications = notifications
        self.pushAddress = pushAddress
    }

    public func receive(_ action: AddAccountAction) {
        switch action {
        case .set(let field, let value):
            switch field {
            case .issuer: state.entry.issuer = value
            case .name: state.entry.name = value
            case .secret: state.entry.secret = value
            case .kind: state.entry.kind = value
            case .algorithm: state.entry.algorithm = value
            case .digits: state.entry.digits = value
            case .period: state.entry.period = value
            case .counter: state.entry.counter = value
            }
            state.fieldErrors[field] = nil
        }
    }

    public func perform(_ effect: AddAccountEffect) async {
        state.error = nil
        switch effect {
        case .scanned(let text):
            let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.contains("assent_token="), let enroller {
                await enroll(text, enroller)
            } else {
                add(manual: false) { try store.addUri(uri: text) }
            }
        case .picked(let data, let password):
            do {
                let report = try store.importData(data: data, password: password)
                state.imported = report
                state.phase = .imported
            } catch AssentError.PasswordRequired {
                state.phase = .needsPassword
            } catch let error as AssentError {
                state.error = error.message
                if case .WrongPassword = error { state.phase = .needsPassword }
            } catch {
                state.error = "Something went wrong."
            }
        case .saveEntry:
            state.fieldErrors = [:]
            if state.entry.name.trimmingCharacters(in: .whitespaces).isEmpty {
                state.fieldErrors[.name] = "Enter the account name."
            }
            if state.entry.secret.trimmingCharacters(in: .whitespaces).isEmpty {
                state.fieldErrors[.secret] = "Enter the key the service showed."
            }
            guard state.fieldErrors.isEmpty else { return }
            let uri = state.entry.uri
            add(manual: true) { try store.addUri(uri: uri) }
        }
    }

    /// `manual`: errors about a field go next to it; else (a scanned QR) they are one sentence.
    private func add(manual: Bool, _ body: () throws -> String) {
        do {
            state.phase = .added(accountId: try body())
        } catch let error as AssentError {
            state.phase = .editing
            let (field, reason) = Self.field(of: error.message)
            if manual, let field {
                state.fieldErrors[field] = reason
            } else {
                state.error = error.message
            }
        } catch {
            state.error = "Something went wrong."
        }
    }

    private func enroll(_ qr: String, _ enroller: Enroller) async {
        guard let push = pushAddress() else {
            state.error = "Notifications are not set up yet. Try again in a moment."
            return
        }
        state.phase = .working
        do {
            let enrollment = try await enroller.enroll(qr: qr, push: push)
            state.phase = .enrolled(accountId: enrollment.accountId, deviceId: enrollment.deviceId)
            if let notifications { _ = await notifications.requestPermission() }
        } catch let error as AssentError {
            state.phase = .editing
            state.error = error.message
        } catch let error as PortalFailure {
            state.phase = .editing
            state.error = error.message
        } catch {
            state.phase = .editing
            state.error = "Something went wrong."
        }
    }

    /// The field a core message is about: the core writes `Not a valid account: FIELD: reason.`
    /// Returns the field and the reason as a sentence.
    static func field(of message: String) -> (AccountField?, String) {
        let prefix = "Not a valid account: "
        guard message.hasPrefix(prefix) else { return (nil, message) }
        let rest = message.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return (nil, message) }
        let name = String(rest[..<colon])
        var reason = rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if let first = reason.first { reason = first.uppercased() + reason.dropFirst() }
        let field: AccountField?
        switch name {
        case "secret": field = .secret
        case "label": field = .name
        case "issuer": field = .issuer
        case "type": field = .kind
        case "algorithm": field = .algorithm
        case "digits": field = .digits
        case "period": field = .period
        case "counter": field = .counter
        default: field = nil
        }
        return (field, field == nil ? message : reason)
    }
}
