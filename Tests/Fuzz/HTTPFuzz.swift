// libFuzzer target for the HTTP/1.1 request parser, which reads every byte a client sends before anything else
// looks at it: any byte string, fed in two pieces split where the first input byte says, must parse or fail with
// a typed error, never crash; the split must not change what comes out (the same requests and the same error as
// one piece); and any error must serialize into a response. Built by deploy/local/fuzz.sh with swiftc directly.

/// Every request, then the error if one was thrown.
private func drain(_ parser: inout HTTPRequestParser, into requests: inout [HTTPRequest]) -> HTTPParseError? {
    do {
        while let request = try parser.next() { requests.append(request) }
        return nil
    } catch {
        return error
    }
}

private let limits: HTTPLimits = {
    // Small limits so the fuzzer reaches every limit check with short inputs.
    var limits = HTTPLimits()
    limits.requestLineBytesMax = 256
    limits.headerBytesMax = 512
    limits.headerCountMax = 8
    limits.bodyBytesMax = 1024
    limits.chunkLineBytesMax = 64
    return limits
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let split = bytes.isEmpty ? 0 : Int(data[0]) * bytes.count / 255

    var whole = HTTPRequestParser(limits: limits)
    whole.feed(bytes)
    var wholeRequests: [HTTPRequest] = []
    let wholeError = drain(&whole, into: &wholeRequests)

    var pieces = HTTPRequestParser(limits: limits)
    var requests: [HTTPRequest] = []
    pieces.feed(bytes[..<split])
    var error = drain(&pieces, into: &requests)
    pieces.feed(bytes[split...])
    error = error ?? drain(&pieces, into: &requests)

    guard requests == wholeRequests, error == wholeError else {
        fatalError(
            "split at \(split) changed the result: \(requests) \(String(describing: error)) vs "
                + "\(wholeRequests) \(String(describing: wholeError))")
    }
    for request in requests {
        guard request.body.count <= limits.bodyBytesMax else { fatalError("body over the limit: \(request)") }
        _ = HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: request.body)
            .serialized()
    }
    if let error {
        guard [400, 413, 414, 431, 501, 505].contains(error.status) else { fatalError("unexpected status: \(error)") }
        _ = HTTPResponse.error(error).serialized()
    }
    return 0
}
