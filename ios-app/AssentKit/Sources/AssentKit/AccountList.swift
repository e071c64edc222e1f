// The account list: every account with its code and countdown, search, reorder, copy.
import Foundation

/// One row of the list, as the view draws it.
public struct AccountRow: Equatable, Sendable, Identifiable {
    public let id: String
    public let issuer: String
    public let name: String
    /// The code, grouped for reading (`123 456`); `code` is what gets copied.
    public let displayCode: String
    public let code: String
    /// Seconds the code stays valid; nil for HOTP (no countdown ring).
    public let secondsLeft: UInt32?
    /// The ring's filled fraction, 1 when the code is new, 0 when it expires.
    public let progress: Double
    public let icon: AccountIcon
    public let iconKey: String
    /// True when this account also approves sign-ins ("Sign-in approvals").
    public let approvesSignIns: Bool
    /// Seconds per code, for the ring.
    let period: UInt32

    init(_ view: AccountView) {
        id = view.id
        issuer = view.issuer
        name = view.name
        period = view.period
        icon = view.icon
        iconKey = view.iconKey
        approvesSignIns = view.pushDeviceId != nil
        (code, displayCode, secondsLeft, progress) =
            AccountRow.codeParts(view.code, view.remainingSeconds, view.period)
    }

    /// The same row with the code of now.
    init(_ row: AccountRow, _ now: AccountCode) {
        id = row.id
        issuer = row.issuer
        name = row.name
        period = row.period
        icon = row.icon
        iconKey = row.iconKey
        approvesSignIns = row.approvesSignIns
        (code, displayCode, secondsLeft, progress) =
            AccountRow.codeParts(now.code, now.remainingSeconds, row.period)
    }

    private static func codeParts(_ code: String, _ left: UInt32?, _ period: UInt32)
        -> (String, String, UInt32?, Double) {
        let progress = left.map { period > 0 ? Double($0) / Double(period) : 1 } ?? 1
        return (code, group(code), left, progress)
    }

    /// `123456` → `123 456`, `12345678` → `1234 5678`; other lengths as they are.
    static func group(_ code: String) -> String {
        guard code.count == 6 || code.count == 8 else { return code }
        let half = code.index(code.startIndex, offsetBy: code.count / 2)
        return "\(code[..<half]) \(code[half...])"
    }
}

/// How long a copied code stays on the pasteboard.
public let copiedCodeLifetime: TimeInterval = 30

public struct AccountListState: Equatable, Sendable {
    public var rows: [AccountRow] = []
    public var query: String = ""
    /// The account whose code was copied last (the view shows "Copied").
    public var copiedId: String?
    /// A sentence to show, from the last failed action.
    public var error: String?
    public var isEmpty: Bool { rows.isEmpty && query.isEmpty }

    public init() {}
}

public enum AccountListAction: Equatable, Sendable {
    /// Recompute the codes (every second while the list is on screen).
    case refresh
    case search(String)
    /// Move an account to `position` (0 = first), as a drag in the list ends.
    case move(id: String, to: Int)
    /// The user tapped the code.
    case copy(id: String)
    case dismissError
}

/// The one place the list's state changes.
public final class AccountListProcessor {
    public private(set) var state = AccountListState()
    private let store: Store
    private let pasteboard: Pasteboard

    public init(store: Store, pasteboard: Pasteboard) {
        self.store = store
        self.pasteboard = pasteboard
    }

    public func receive(_ action: AccountListAction) {
        do {
            switch action {
            case .refresh:
                try refreshCodes()
            case .search(let query):
                state.query = query
                try load()
            case .move(let id, let position):
                try store.moveTo(id: id, position: UInt32(max(0, position)))
                try load()
            case .copy(let id):
                try load()
                guard let row = state.rows.first(where: { $0.id == id }) else { return }
                if row.secondsLeft == nil {
                    // HOTP: copying uses the code and moves the counter on.
                    pasteboard.copy(try store.useHotpCode(id: id), expiresAfter: copiedCodeLifetime)
                    try load()
                } else {
                    pasteboard.copy(row.code, expiresAfter: copiedCodeLifetime)
                }
                state.copiedId = id
            case .dismissError:
                state.error = nil
            }
        } catch let error as AssentError {
            state.error = error.message
        } catch {
            state.error = "Something went wrong."
        }
    }

    /// The once-a-second refresh: only the codes cross from the core (`Store.codes()`), and the
    /// rows keep the rest; when the accounts changed underneath, the whole list is read again.
    private func refreshCodes() throws {
        guard !state.rows.isEmpty else { return try load() }
        let codes = try store.codes()
        var byId: [String: AccountCode] = [:]
        byId.reserveCapacity(codes.count)
        for code in codes { byId[code.id] = code }
        var rows: [AccountRow] = []
        rows.reserveCapacity(state.rows.count)
        for row in state.rows {
            guard let now = byId[row.id] else { return try load() }
            rows.append(AccountRow(row, now))
        }
        if state.query.trimmingCharacters(in: .whitespaces).isEmpty && codes.count != rows.count {
            return try load()
        }
        state.rows = rows
    }

    private func load() throws {
        let query = state.query.trimmingCharacters(in: .whitespaces)
        let views = query.isEmpty ? try store.accounts() : try store.search(query: query)
        state.rows = views.map(AccountRow.init)
    }
}
