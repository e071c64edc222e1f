// The root: the list, the approval sheet for pending requests, the lock screen and the shield
// that hides the content in the app switcher and while the screen is captured.
import AssentKit
import SwiftUI
import UIKit

struct RootView: View {
    @EnvironmentObject private var router: Router

    var body: some View {
        ZStack {
            if let environment = router.environment {
                NavigationStack {
                    AccountListView(model: AccountListModel(environment: environment), environment: environment)
                }
                .sheet(item: Binding(
                    get: { router.pending.first.map { ApprovalModel(challenge: $0, environment: environment) } },
                    set: { if $0 == nil, !router.pending.isEmpty { router.pending.removeFirst() } })) { model in
                    ApprovalView(model: model)
                }
            } else {
                ContentUnavailableView("Assent cannot start", systemImage: "exclamationmark.triangle",
                                       description: Text(router.startupError ?? ""))
            }
            if router.hidden || router.locked {
                PrivacyShield(locked: router.locked) { Task { await router.unlock() } }
            }
        }
        .onReceive(NotificationCenter.default.publisher(for: UIScreen.capturedDidChangeNotification)) { _ in
            let protect = router.environment?.settings.screenCaptureProtection ?? true
            router.hidden = protect && UIScreen.main.isCaptured
        }
    }
}

/// Covers everything: in the app switcher, while recording or mirroring, and while locked.
struct PrivacyShield: View {
    let locked: Bool
    let unlock: () -> Void

    var body: some View {
        ZStack {
            Rectangle().fill(.background).ignoresSafeArea()
            VStack(spacing: 16) {
                Image(systemName: "lock.shield").font(.system(size: 56))
                Text("Assent").font(.title2.bold())
                if locked {
                    Button("Unlock with Face ID", action: unlock).buttonStyle(.borderedProminent)
                }
            }
        }
        .accessibilityElement(children: .combine)
    }
}
