// Request targets taken apart byte-wise: Character iteration (grapheme breaking) costs more than the rest of a
// small request's routing, and targets are ASCII after the parser's checks anyway.

import Glibc

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

    /// Where the model's name lies in `target` (UTF-8 offsets) when the target is spelled exactly
    /// `/v2/models/{name}/infer` (no query, no empty segment, no version), which `split` would give as `v2`,
    /// `models`, the name and `infer`; nil for every other target.
    static func kserveInferModelRange(_ target: String) -> Range<Int>? {
        // A parsed target is native, contiguous UTF-8: read in place. Anything else is first made so.
        if let range = target.utf8.withContiguousStorageIfAvailable({ kserveInferModelRange(bytes: $0) }) {
            return range
        }
        var target = target
        return target.withUTF8 { kserveInferModelRange(bytes: $0) }
    }

    private static func kserveInferModelRange(bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let prefix: StaticString = "/v2/models/"
        let suffix: StaticString = "/infer"
        let head = prefix.utf8CodeUnitCount
        let tail = suffix.utf8CodeUnitCount
        guard bytes.count > head + tail, let base = bytes.baseAddress else { return nil }
        let end = bytes.count - tail
        guard memcmp(base, prefix.utf8Start, head) == 0, memcmp(base + end, suffix.utf8Start, tail) == 0 else {
            return nil
        }
        for index in head..<end where base[index] == UInt8(ascii: "/") || base[index] == UInt8(ascii: "?") {
            return nil
        }
        return head..<end
    }

    /// The model's name of such a target, as text.
    static func kserveInferModel(_ target: String) -> Substring? {
        guard let name = kserveInferModelRange(target) else { return nil }
        let utf8 = target.utf8
        return target[
            utf8.index(
                utf8.startIndex, offsetBy: name.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: name.upperBound)]
    }
}
