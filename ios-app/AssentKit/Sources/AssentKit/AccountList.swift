// The account list: every account with its code and countdown, search, reorder, copy.
import Foundation

/// One row of the list, as the view draws it.
public struct AccountRow: Equatable, Sendable, Identifiable {
    public let id: String
    public let issuer: String
    public let name: String
    /// The code, grouped for reading (`123 456`), as the core formats it.
    public let displayCode: String
    /// What gets copied: the code without the space.
    public var code: String { displayCode.replacingOccurrences(of: " ", with: "") }
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
    /// The index of its code in the core's `CodeSheet`.
    let position: Int

    /// The row of `view`, with its code of now from the sheet (`displayCode`, `left`: 0 for
    /// HOTP).
    init(_ view: AccountView, _ displayCode: Substring, _ left: UInt32) {
        id = view.id
        issuer = view.issuer
        name = view.name
        period = view.period
        position = Int(view.position)
        icon = view.icon
        iconKey = view.iconKey
        approvesSignIns = view.pushDeviceId != nil
        self.displayCode = String(displayCode)
        (secondsLeft, progress) = AccountRow.countdown(left, view.period)
    }

    /// The same row with another code.
    init(_ row: AccountRow, _ displayCode: Substring, _ left: UInt32) {
        id = row.id
        issuer = row.issuer
        name = row.name
        period = row.period
        position = row.position
        icon = row.icon
        iconKey = row.iconKey
        approvesSignIns = row.approvesSignIns
        self.displayCode = String(displayCode)
        (secondsLeft, progress) = AccountRow.countdown(left, row.period)
    }

    private static func countdown(_ left: UInt32, _ period: UInt32) -> (UInt32?, Double) {
        guard left > 0 else { return (nil, 1) }
        return (left, period > 0 ? Double(left) / Double(period) : 1)
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
    /// The accounts' revision the rows were read at.
    private var revision: UInt64?

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

    /// The once-a-second refresh: the codes of every account cross from the core as one
    /// string (`Store.codeSheet()`), and the rows keep the rest. When the accounts changed
    /// underneath (another screen), the sheet's revision says so and the whole
    /// list is read again.
    private func refreshCodes() throws {
        guard !state.rows.isEmpty, let revision else { return try load() }
        let sheet = try store.codeSheet()
        guard sheet.revision == revision else { return try load() }
        let codes = sheet.codes.split(separator: "\n", omittingEmptySubsequences: false)
        guard codes.count == sheet.remainingSeconds.count else { return try load() }
        var rows: [AccountRow] = []
        rows.reserveCapacity(state.rows.count)
        for row in state.rows {
            guard row.position < codes.count else { return try load() }
            rows.append(AccountRow(row, codes[row.position], sheet.remainingSeconds[row.position]))
        }
        state.rows = rows
    }

    private func load() throws {
        let query = state.query.trimmingCharacters(in: .whitespaces)
        // The revision first, and the codes last: when the accounts changed between the reads,
        // read them again.
        for _ in 0..<3 {
            let revision = store.revision()
            let views = query.isEmpty ? try store.accounts() : try store.search(query: query)
            let sheet = try store.codeSheet()
            let codes = sheet.codes.split(separator: "\n", omittingEmptySubsequences: false)
            state.rows = views.compactMap { view in
                let position = Int(view.position)
                guard position < codes.count, position < sheet.remainingSeconds.count else { return nil }
                return AccountRow(view, codes[position], sheet.remainingSeconds[position])
            }
            self.revision = revision
            if sheet.revision == revision { return }
        }
    }
}
