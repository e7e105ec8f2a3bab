import Foundation

/// `diagnose`: each log named is read in the format its first lines show — Exchange protocol logs by
/// `ProtocolLogDiagnoser`, the logs of postfix, dovecot and exim by `MailLogDiagnoser`. A file in no known format is
/// an error (bad data), never "0 failures".
public struct LogDiagnoser: Sendable {
    public struct Result: Sendable {
        /// Every file read, in order, with the format it was read as (nil: empty).
        public var files: [(name: String, format: LogFormat?)] = []
        public var exchange = ProtocolLogDiagnoser.Result()
        public var mail = MailLogDiagnoser.Result()
        public var failures: Int { exchange.failures + mail.failures }
        public var malformedCount: Int { exchange.malformedCount + mail.malformedCount }
        public var malformed: [ProtocolLogReader.Malformed] { Array((exchange.malformed + mail.malformed).prefix(100)) }
    }

    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    public func diagnose(_ paths: [String]) throws -> Result {
        let files = try ProtocolLogReader.files(paths)
        var result = Result()
        var exchange: [URL] = [], mail: [URL] = []
        for file in files {
            let format = try LogFormat.detect(file)
            result.files.append((file.lastPathComponent, format))
            switch format {
            case .exchangeProtocolLog?: exchange.append(file)
            case .syslog?, .dovecotLog?, .eximMainlog?: mail.append(file)
            case nil: break
            }
        }
        if !exchange.isEmpty {
            result.exchange = try ProtocolLogDiagnoser(store: store).diagnose(files: exchange)
        }
        if !mail.isEmpty {
            result.mail = try MailLogDiagnoser(store: store).diagnose(mail)
        }
        return result
    }
}
