// One account's details: rename, delete (with the push warning), its portal and device.
import Foundation

public struct AccountDetailsState: Equatable, Sendable {
    public let accountId: String
    public var issuer: String
    public var name: String
    /// The portal and device label when the account also approves sign-ins.
    public var portal: String?
    public var device: String?
    /// The warning to confirm before deleting an account that approves sign-ins.
    public var confirmDelete: String?
    public var deleted = false
    public var error: String?
}

public enum AccountDetailsAction: Equatable, Sendable {
    case setIssuer(String)
    case setName(String)
    case saveName
    /// The user tapped Delete (a push account asks for confirmation first).
    case delete
    /// The user confirmed the push warning.
    case confirmDelete
    case cancelDelete
}

/// The one place the details screen's state changes.
public final class AccountDetailsProcessor {
    public private(set) var state: AccountDetailsState
    private let store: Store

    /// Nil when the account is not in the vault (any more).
    public init?(accountId: String, store: Store) {
        guard let account = try? store.accounts().first(where: { $0.id == accountId }) else {
            return nil
        }
        let push = account.pushDeviceId.flatMap { id in
            try? store.pushAccounts().first(where: { $0.deviceId == id })
        }
        state = AccountDetailsState(accountId: accountId, issuer: account.issuer, name: account.name,
                                    portal: push?.portalUrl, device: push?.deviceId)
        self.store = store
    }

    public func receive(_ action: AccountDetailsAction) {
        state.error = nil
        do {
            switch action {
            case .setIssuer(let issuer): state.issuer = issuer
            case .setName(let name): state.name = name
            case .saveName:
                try store.rename(id: state.accountId, issuer: state.issuer, name: state.name)
            case .delete:
                do {
                    try store.delete(id: state.accountId, retirePush: false)
                    state.deleted = true
                } catch AssentError.NeedsConfirmation(let warning) {
                    state.confirmDelete = warning
                }
            case .confirmDelete:
                guard state.confirmDelete != nil else { return }
                try store.delete(id: state.accountId, retirePush: true)
                state.confirmDelete = nil
                state.deleted = true
            case .cancelDelete:
                state.confirmDelete = nil
            }
        } catch let error as AssentError {
            state.error = error.message
        } catch {
            state.error = "Something went wrong."
        }
    }
}
