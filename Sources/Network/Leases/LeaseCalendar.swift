/// UTC calendar arithmetic for lease dates, without Foundation: dhclient writes
/// `W YYYY/MM/DD HH:MM:SS` in UTC (dhclient.leases(5)), and the proleptic Gregorian
/// day count is exact for every date it can write.
enum LeaseCalendar {
    /// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// `2026/11/30` and `10:00:00` → seconds since the epoch; nil for anything out of range.
    static func seconds(date: String, time: String) -> Int64? {
        let d = date.split(separator: "/", omittingEmptySubsequences: false).map { Int64($0) }
        let t = time.split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) }
        guard d.count == 3, t.count == 3, let year = d[0], let month = d[1], let day = d[2], let hour = t[0], let minute = t[1],
            let second = t[2], (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second), (1970...9999).contains(year)
        else { return nil }
        return days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second
    }

    /// `2026-11-30 10:00:00 UTC`, for messages.
    static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rest = seconds - days * 86400
        // civil_from_days
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60)) UTC"
    }
}
