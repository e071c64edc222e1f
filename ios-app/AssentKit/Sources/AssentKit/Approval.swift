// The approve/deny screen of one sign-in request: context, countdown, number pad, user
// verification before approving, and the answer sent to the portal.
import Foundation

public enum ApprovalPhase: Equatable, Sendable {
    /// Waiting for the user.
    case open
    /// Sending the answer.
    case sending
    case approved
    case denied
    /// Expired before it was answered (or the portal said so): nothing was approved.
    case expired
    /// Closed for another reason (answered elsewhere, wrong number, device replaced); the
    /// message says which.
    case closed
}

public struct ApprovalState: Equatable, Sendable {
    public let challenge: ChallengeView
    public var phase: ApprovalPhase = .open
    /// The digits typed so far (number matching).
    public var number: String = ""
    public var secondsLeft: UInt64
    /// A sentence to show: why the last action did not go through.
    public var error: String?

    /// The digits to type, nil when the request has no number matching.
    public var digitsToType: Int? { challenge.numberDigits.map(Int.init) }
    public var canApprove: Bool {
        phase == .open && (digitsToType.map { number.count == $0 } ?? true)
    }
    /// The context lines the screen shows (application, browser and OS, place).
    public var context: NotificationContent { NotificationContentBuilder.content(for: challenge) }
}

public enum ApprovalAction: Equatable, Sendable {
    case typeDigit(Character)
    case deleteDigit
    /// The number typed into the notification's text field.
    case setNumber(String)
    /// Recompute the countdown (every second while on screen).
    case tick
}

public enum ApprovalEffect: Equatable, Sendable {
    case approve
    case deny(notMe: Bool)
}

/// The messages of the approval screen.
public enum ApprovalMessage {
    public static let expired =
        "This sign-in request expired. Nothing was approved; sign in again for a new request."
    public static let refusedVerification =
        "Face ID or the passcode was not confirmed. Nothing was sent."
    public static let noVerification =
        "This sign-in needs Face ID or a passcode. Set one up in Settings, then try again."
    public static func typeDigits(_ n: Int) -> String {
        "Type the \(n) digits shown on the sign-in page."
    }
}

/// The one place the approval screen's state changes.
public final class ApprovalProcessor {
    public private(set) var state: ApprovalState
    private let store: Store
    private let transport: PortalTransport
    private let biometrics: Biometrics
    private let clock: Clock
    /// The app setting "Ask for Face ID before approving".
    private let alwaysVerify: Bool

    public init(challenge: ChallengeView, store: Store, transport: PortalTransport,
                biometrics: Biometrics, clock: Clock, alwaysVerify: Bool) {
        let now = clock.nowUnixSeconds()
        state = ApprovalState(challenge: challenge,
                              secondsLeft: challenge.expiresAt > now ? challenge.expiresAt - now : 0)
        self.store = store
        self.transport = transport
        self.biometrics = biometrics
        self.clock = clock
        self.alwaysVerify = alwaysVerify
        if state.secondsLeft == 0 { expire() }
    }

    public func receive(_ action: ApprovalAction) {
        guard state.phase == .open else { return }
        switch action {
        case .typeDigit(let digit):
            guard digit.isASCII, digit.isNumber,
                  state.number.count < (state.digitsToType ?? 0) else { return }
            state.number.append(digit)
            state.error = nil
        case .deleteDigit:
            if !state.number.isEmpty { state.number.removeLast() }
        case .setNumber(let text):
            state.number = String(text.filter { $0.isASCII && $0.isNumber })
            state.error = nil
        case .tick:
            tick()
        }
    }

    public func perform(_ effect: ApprovalEffect) async {
        tick()
        guard state.phase == .open else { return }
        let answer: UserAnswer
        switch effect {
        case .approve:
            if let digits = state.digitsToType, state.number.count != digits {
                state.error = ApprovalMessage.typeDigits(digits)
                return
            }
            guard let verified = await verifyIfNeeded() else { return }
            tick()
            guard state.phase == .open else { return }
            answer = .approve(number: state.digitsToType == nil ? nil : state.number,
                              userVerified: verified)
        case .deny(let notMe):
            answer = .deny(notMe: notMe, userVerified: false)
        }
        let request: PortalRequest
        do {
            request = try store.answer(challengeId: state.challenge.id, answer: answer)
        } catch let error as AssentError {
            close(error)
            return
        } catch {
            state.error = "Something went wrong."
            return
        }
        state.phase = .sending
        do {
            _ = try await transport.send(request)
            if case .approve = effect { state.phase = .approved } else { state.phase = .denied }
            state.error = nil
        } catch {
            if error.isExpiry {
                state.phase = .expired
                state.error = ApprovalMessage.expired
            } else {
                // The vault remembers the answer, so this request is not answered twice.
                state.phase = .closed
                state.error = error.message
            }
        }
    }

    /// nil: stop, nothing is sent (refused, or required and unavailable); else whether the
    /// user was verified just now.
    private func verifyIfNeeded() async -> Bool? {
        let required = state.challenge.userVerification == .required
        let ask = required || alwaysVerify || state.challenge.userVerification == .preferred
        guard ask else { return false }
        let reason = "Approve the sign-in to \(state.challenge.application)"
        switch await biometrics.verify(reason: reason) {
        case .verified:
            return true
        case .refused:
            state.error = ApprovalMessage.refusedVerification
            return nil
        case .unavailable:
            if required || alwaysVerify {
                state.error = ApprovalMessage.noVerification
                return nil
            }
            return false
        }
    }

    private func tick() {
        guard state.phase == .open else { return }
        let now = clock.nowUnixSeconds()
        state.secondsLeft = state.challenge.expiresAt > now ? state.challenge.expiresAt - now : 0
        if state.secondsLeft == 0 { expire() }
    }

    private func expire() {
        state.phase = .expired
        state.error = ApprovalMessage.expired
    }

    private func close(_ error: AssentError) {
        if clock.nowUnixSeconds() >= state.challenge.expiresAt {
            expire()
        } else if case .RequestClosed = error {
            state.phase = .closed
            state.error = error.message
        } else {
            state.error = error.message
        }
    }
}
