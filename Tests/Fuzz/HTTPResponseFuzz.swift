// libFuzzer target for the HTTP/1.1 response parser, which reads every byte a backend sends on a pooled client
// connection: any byte string must parse or fail with a typed error, never crash; feeding it in two pieces (split
// where the first input byte says) must give the same responses and the same error as one piece; and the parser's
// bookkeeping must hold (each final response answers one expected request, a body never exceeds the limit, only
// the last response may end the connection). The second byte picks how many requests were sent and which were
// HEAD, the third whether the peer closes after the bytes. Built by deploy/local/fuzz.sh with swiftc directly.

private let limits: HTTPResponseLimits = {
    // Small limits so the fuzzer reaches every limit check with short inputs.
    var limits = HTTPResponseLimits()
    limits.statusLineBytesMax = 64
    limits.headerBytesMax = 256
    limits.headerCountMax = 8
    limits.bodyBytesMax = 512
    limits.chunkLineBytesMax = 32
    return limits
}()

/// Every response, then the error if one was thrown; nothing more is read after an error.
private func drain(
    _ parser: inout HTTPResponseParser, into responses: inout [HTTPClientResponse], error: inout HTTPResponseParseError?
) {
    guard error == nil else { return }
    do {
        while let response = try parser.next() { responses.append(response) }
    } catch let thrown {
        error = thrown
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 3, count: size - 3))
    let split = bytes.isEmpty ? 0 : Int(data[0]) * bytes.count / 255
    let requestCount = Int(data[1] & 0x07) + 1
    let methods = (0..<requestCount).map { index in index < 5 && data[1] & (0x08 << index) != 0 ? "HEAD" : "POST" }
    let close = data[2] & 1 == 1

    func run(splitAt split: Int) -> ([HTTPClientResponse], HTTPResponseParseError?, HTTPResponseParser) {
        var parser = HTTPResponseParser(limits: limits)
        for method in methods { parser.expect(method: method) }
        var responses: [HTTPClientResponse] = []
        var error: HTTPResponseParseError? = nil
        parser.feed(bytes[..<split])
        drain(&parser, into: &responses, error: &error)
        parser.feed(bytes[split...])
        drain(&parser, into: &responses, error: &error)
        if close {
            parser.connectionClosed()
            drain(&parser, into: &responses, error: &error)
        }
        return (responses, error, parser)
    }

    let (wholeResponses, wholeError, _) = run(splitAt: bytes.count)
    let (responses, error, parser) = run(splitAt: split)
    guard responses == wholeResponses, error == wholeError else {
        fatalError(
            "split at \(split) changed the result: \(responses) \(String(describing: error)) vs "
                + "\(wholeResponses) \(String(describing: wholeError))")
    }
    guard responses.count + parser.pendingCount == requestCount else {
        fatalError("\(responses.count) responses and \(parser.pendingCount) pending for \(requestCount) requests")
    }
    for (index, response) in responses.enumerated() {
        guard response.body.count <= limits.bodyBytesMax else { fatalError("body over the limit: \(response)") }
        guard (200...599).contains(response.status) else { fatalError("interim or invalid status: \(response)") }
        guard response.keepAlive || index == responses.count - 1 else {
            fatalError("a response after one that ended the connection: \(responses)")
        }
        if methods[index] == "HEAD" || response.status == 204 || response.status == 304 {
            guard response.body.isEmpty else { fatalError("a body where none may be: \(response)") }
        }
    }
    if let error {
        guard parser.phase == .failed, !error.message.isEmpty else { fatalError("error without failing: \(error)") }
    }
    return 0
}
