// SwiftUI adapters: each AssentKit processor behind an ObservableObject that republishes its
// state after every action. The processors stay plain (they are tested on Linux, which has no
// Combine or Observation); this file is the only place SwiftUI meets them.
import AssentKit
import SwiftUI

@MainActor
final class AccountListModel: ObservableObject {
    @Published private(set) var state = AccountListState()
    private let processor: AccountListProcessor

    init(environment: AppEnvironment) {
        processor = AccountListProcessor(store: environment.store, pasteboard: environment.pasteboard)
        send(.refresh)
    }

    func send(_ action: AccountListAction) {
        processor.receive(action)
        state = processor.state
    }
}

@MainActor
final class AddAccountModel: ObservableObject {
    @Published private(set) var state = AddAccountState()
    private let processor: AddAccountProcessor

    init(environment: AppEnvironment) {
        let push = environment.push
        processor = AddAccountProcessor(store: environment.store, enroller: environment.enroller,
                                        notifications: environment.notifications,
                                        pushAddress: { push.address })
    }

    func send(_ action: AddAccountAction) {
        processor.receive(action)
        state = processor.state
    }

    func perform(_ effect: AddAccountEffect) async {
        await processor.perform(effect)
        state = processor.state
    }
}

@MainActor
final class ApprovalModel: ObservableObject, Identifiable {
    @Published private(set) var state: ApprovalState
    private let processor: ApprovalProcessor
    nonisolated let id: String

    init(challenge: ChallengeView, environment: AppEnvironment) {
        processor = ApprovalProcessor(challenge: challenge, store: environment.store,
                                      transport: environment.transport,
                                      biometrics: environment.biometrics, clock: SystemClock(),
                                      alwaysVerify: environment.settings.verifyBeforeApprove)
        state = processor.state
        id = challenge.id
    }

    func send(_ action: ApprovalAction) {
        processor.receive(action)
        state = processor.state
    }

    func perform(_ effect: ApprovalEffect) async {
        await processor.perform(effect)
        state = processor.state
    }
}

@MainActor
final class AccountDetailsModel: ObservableObject {
    @Published private(set) var state: AccountDetailsState?
    private let processor: AccountDetailsProcessor?

    init(accountId: String, environment: AppEnvironment) {
        processor = AccountDetailsProcessor(accountId: accountId, store: environment.store)
        state = processor?.state
    }

    func send(_ action: AccountDetailsAction) {
        processor?.receive(action)
        state = processor?.state
    }
}

@MainActor
final class SettingsModel: ObservableObject {
    @Published private(set) var state: SettingsState
    private let processor: SettingsProcessor

    init(environment: AppEnvironment) {
        processor = SettingsProcessor(store: environment.store, preferences: environment.preferences,
                                      biometrics: environment.biometrics)
        state = processor.state
    }

    func send(_ action: SettingsAction) {
        processor.receive(action)
        state = processor.state
    }

    func perform(_ effect: SettingsEffect) async {
        await processor.perform(effect)
        state = processor.state
    }
}
