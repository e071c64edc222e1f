// The app and scene glue: APNs registration, notification actions, pull on foreground, the
// privacy shield and the app lock.
import AssentKit
import SwiftUI
import UIKit
import UserNotifications

@main
struct AssentApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @Environment(\.scenePhase) private var scenePhase
    @StateObject private var router = Router()

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(router)
                .preferredColorScheme(router.colorScheme)
                .onChange(of: scenePhase) { _, phase in
                    router.scenePhaseChanged(phase)
                }
        }
    }
}

/// Which screen shows, what the app holds open, and the app-wide settings the views read.
@MainActor
final class Router: ObservableObject {
    @Published var pending: [ChallengeView] = []
    @Published var locked = false
    @Published var hidden = false
    @Published var startupError: String?
    @Published var colorScheme: ColorScheme?
    let environment: AppEnvironment?

    init() {
        do {
            environment = try AppEnvironment()
        } catch let error as AssentError {
            environment = nil
            startupError = error.message
        } catch {
            environment = nil
            startupError = "Assent could not open your accounts."
        }
        applySettings()
        AppDelegate.router = self
    }

    func applySettings() {
        guard let settings = environment?.settings else { return }
        switch settings.theme {
        case .system: colorScheme = nil
        case .light: colorScheme = .light
        case .dark: colorScheme = .dark
        }
        locked = settings.appLock && locked
    }

    func scenePhaseChanged(_ phase: ScenePhase) {
        guard let environment else { return }
        let protect = environment.settings.screenCaptureProtection
        switch phase {
        case .active:
            hidden = protect && UIScreen.main.isCaptured
            Task { await pullPending() }
            _ = try? environment.store.flushBackup()
        case .inactive:
            hidden = protect
        case .background:
            hidden = protect
            locked = environment.settings.appLock
            _ = try? environment.store.flushBackup()
        @unknown default:
            break
        }
    }

    /// Opening the app finds any request whose notification was missed.
    func pullPending() async {
        guard let environment else { return }
        let found = await environment.push.pullPending()
        pending = found
    }

    func unlock() async {
        guard let environment else { return }
        if await environment.biometrics.verify(reason: "Unlock Assent") == .verified { locked = false }
    }
}

final class AppDelegate: NSObject, UIApplicationDelegate, UNUserNotificationCenterDelegate {
    @MainActor static weak var router: Router?

    func application(_ application: UIApplication,
                     didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil) -> Bool {
        UNUserNotificationCenter.current().delegate = self
        SystemNotifications.registerCategory()
        // A token needs no alert permission; permission is asked after the first enrollment.
        application.registerForRemoteNotifications()
        return true
    }

    func application(_ application: UIApplication,
                     didRegisterForRemoteNotificationsWithDeviceToken deviceToken: Data) {
        Task { @MainActor in
            guard let push = AppDelegate.router?.environment?.push else { return }
            await push.tokenChanged(deviceToken)
        }
    }

    func application(_ application: UIApplication,
                     didFailToRegisterForRemoteNotificationsWithError error: Error) {
        // Pull on foreground still finds every request.
    }

    func userNotificationCenter(_ center: UNUserNotificationCenter, willPresent notification: UNNotification)
        async -> UNNotificationPresentationOptions {
        await AppDelegate.router?.pullPending()
        return [.banner, .sound]
    }

    func userNotificationCenter(_ center: UNUserNotificationCenter,
                                didReceive response: UNNotificationResponse) async {
        let text = (response as? UNTextInputNotificationResponse)?.userText
        let userInfo = response.notification.request.content.userInfo
        guard let router = await AppDelegate.router, let environment = await router.environment else { return }
        let state = await NotificationResponder.respond(
            actionIdentifier: response.actionIdentifier, typedText: text, userInfo: userInfo,
            store: environment.store, transport: environment.transport,
            biometrics: environment.biometrics, clock: SystemClock(),
            alwaysVerify: environment.settings.verifyBeforeApprove)
        if state == nil || state?.error != nil {
            // Not answered from the notification (tapped, or refused): show the approval screen.
            await router.pullPending()
        }
    }
}
