// The colours of the account icons (`AccountIcon`): the core gives them as `#RRGGBB`; the list
// draws them with SwiftUI's `Color(red:green:blue:)`, which takes components. Parsed here, in
// plain Swift, so that the parsing is tested on Linux and the view only draws.
import Foundation

/// An icon's colour in sRGB, each component from 0 to 1.
public struct IconColor: Equatable, Sendable {
    public let red: Double
    public let green: Double
    public let blue: Double

    public init(red: Double, green: Double, blue: Double) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// The colour of `#RRGGBB` (either case), as the core writes it (`Color::hex`); nil for
    /// anything else. Every colour the core gives parses: nil means the bindings changed.
    public init?(hex: String) {
        let bytes = Array(hex.utf8)
        // `UInt8(_:radix:)` alone would take a sign ("+f"), so check the digits first.
        guard bytes.count == 7, bytes[0] == UInt8(ascii: "#"),
              bytes.dropFirst().allSatisfy(Self.isHexDigit) else { return nil }
        func channel(_ at: Int) -> Double? {
            UInt8(String(decoding: bytes[at..<at + 2], as: UTF8.self), radix: 16).map { Double($0) / 255 }
        }
        guard let red = channel(1), let green = channel(3), let blue = channel(5) else { return nil }
        self.init(red: red, green: green, blue: blue)
    }

    /// What the list draws an icon in when its colour does not parse: the grey of the core's
    /// `?` avatar (`#5F6368`), so that such an icon looks unknown rather than like some brand.
    public static let unknown = IconColor(red: 0x5F / 255, green: 0x63 / 255, blue: 0x68 / 255)

    /// WCAG relative luminance, 0 (black) to 1 (white): the core's `Color::luminance`.
    public var luminance: Double {
        func linear(_ c: Double) -> Double { c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4) }
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    }

    /// True when black reads better on this colour than white: the core's `Color::is_light`
    /// (the bindings carry only the hex). A brand colour near white (Snapchat's yellow) needs
    /// a dark backdrop, one near black (GitHub's) a light one.
    public var isLight: Bool {
        // Where the contrast with black, (L + 0.05) / 0.05, equals that with white,
        // 1.05 / (L + 0.05).
        luminance > 0.179
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }
}

extension AccountIcon {
    /// The icon's colour: a brand's own colour, or the letter avatar's background.
    public var color: IconColor {
        switch self {
        case .brand(_, _, _, let hex), .letter(_, let hex):
            return IconColor(hex: hex) ?? .unknown
        }
    }
}
