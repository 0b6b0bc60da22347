// Request targets taken apart byte-wise: Character iteration (grapheme breaking) costs more than the rest of a
// small request's routing, and targets are ASCII after the parser's checks anyway.

enum HTTPPath {
    /// The target's path (before any `?`) and its segments, split at `/` with empty segments dropped.
    static func split(_ target: String) -> (path: Substring, segments: [Substring]) {
        let utf8 = target.utf8
        let end = utf8.firstIndex(of: UInt8(ascii: "?")) ?? utf8.endIndex
        var segments: [Substring] = []
        segments.reserveCapacity(8)
        var segmentStart = utf8.startIndex
        var index = utf8.startIndex
        while index != end {
            if utf8[index] == UInt8(ascii: "/") {
                if segmentStart != index { segments.append(target[segmentStart..<index]) }
                segmentStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if segmentStart != end { segments.append(target[segmentStart..<end]) }
        return (target[..<end], segments)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let bytes = utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(self[first...last])
    }
}
