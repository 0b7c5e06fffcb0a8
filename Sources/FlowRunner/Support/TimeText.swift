public import Foundation

/// Times and numbers as text without Foundation's formatters (which load the
/// ICU data and cost megabytes of memory in a short-lived CLI).
public enum TimeText {
    /// RFC 3339 in UTC with milliseconds: `2026-11-25T14:29:28.202Z`.
    public static func rfc3339(_ date: Date) -> String {
        let (parts, milliseconds) = brokenDown(date, local: false)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(milliseconds, 3))Z"
    }

    /// Local time for tables: `2026-11-25 14:29:28`.
    public static func local(_ date: Date) -> String {
        let (parts, _) = brokenDown(date, local: true)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2)) "
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
    }

    /// `value` with exactly `digits` decimals (`fixed(3.14159, 2)` is `3.14`).
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return String(value) }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(scaled) - whole * Int64(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(pad(Int(fraction), digits))"
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    static func brokenDown(_ date: Date, local: Bool) -> (tm, Int) {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let milliseconds = min(999, Int(((interval - interval.rounded(.down)) * 1000).rounded(.down)))
        var parts = tm()
        if local { localtime_r(&seconds, &parts) } else { gmtime_r(&seconds, &parts) }
        return (parts, milliseconds)
    }
}
