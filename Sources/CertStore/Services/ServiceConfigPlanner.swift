import Foundation

/// Compares a daemon's live configuration with what the bindings require and writes the lines that must change.
///
/// Rules, for every daemon: a certificate or key parameter must name the service's `current` files (never a
/// version directory: the switch is one rename of `current`); a security level is raised to certstore's minimum
/// only when the live one is absent or weaker, and a stricter one is kept and said to be kept; a setting certstore
/// does not recognise is left alone and reported. When the live configuration could not be read, every
/// recommended line is printed, with a comment saying so.
struct ServiceConfigPlanner {
    typealias Daemon = ServiceConfig.Daemon
    typealias Drift = ServiceConfig.Drift
    typealias LiveConfiguration = ServiceConfig.LiveConfiguration

    let daemon: Daemon
    let store: StoreLocation
    let live: ServiceConfig.LiveState

    /// What one setting comes to: comments, the lines to print (none when the live value is kept), a drift.
    struct Item {
        var comments: [String] = []
        var lines: [String] = []
        var drifts: [Drift] = []
    }

    var service: ExchangeService { daemon.service }
    var current: String { ServiceFiles(store: store).currentLink(service).path }
    var fullchain: String { current + "/fullchain.pem" }
    var privkey: String { current + "/privkey.pem" }
    var config: LiveConfiguration? {
        if case .read(let config) = live { return config }
        return nil
    }

    func plan() throws -> ServiceConfig.Plan {
        try checkPaths()
        var lines = [
            "# Written by `certstore service-config \(daemon.rawValue)` for \(store.directory.path).",
            "# certstore switches these files atomically when bindings change; reload the daemon from a hook in \(DeployHooks(store: store).directory.path)/.",
        ]
        switch live {
        case .read(let config):
            lines.append("# Live configuration: \(daemon.readsNamedFile ? config.source : "`\(config.source)`"). Below is only what must change; "
                         + "kept settings are noted, and no security level is lowered.")
        case .unavailable(let tried, let reason):
            lines.append("# The live configuration could not be read (tried \(tried == "no file" ? "nothing" : "`\(tried)`"): \(reason)).")
            lines.append("# These are the full recommended lines: compare them with your configuration first, and keep any stricter security level it has.")
        }
        var items: [Item]
        switch daemon {
        case .postfix: items = postfix()
        case .dovecot: items = dovecot()
        case .exim4: items = exim()
        case .nginx: items = nginx()
        case .apache2: items = apache()
        case .haproxy: items = haproxy()
        }
        items.append(bindingItem())
        for item in items {
            lines += item.comments + item.lines
        }
        if config != nil, items.allSatisfy({ $0.lines.isEmpty }) {
            lines.append("# Nothing to change: \(daemon.rawValue) reads \(service.rawValue)'s files at the levels certstore requires.")
        }
        if daemon == .postfix {
            lines += ServiceConfig.connectorLines(try store.read(SendConnectors.self).sendConnectors)
        }
        return ServiceConfig.Plan(daemon: daemon, service: service, live: live, lines: lines,
                                  drifts: config == nil ? [] : items.flatMap(\.drifts))
    }

    /// The files exist once a certificate is bound; before that the daemon finds nothing to read.
    private func bindingItem() -> Item {
        var info = stat()
        guard lstat(current, &info) != 0 else { return Item() }
        let fix = ShellQuote.command(["certstore", "--root", store.root.path, "enable", "THUMBPRINT", "--services", service.rawValue])
        return Item(comments: ["# Nothing is bound to \(service.rawValue) yet, so \(current) does not exist: bind a certificate first (\(fix))."],
                    drifts: [Drift(setting: "\(service.rawValue) service files", live: nil, required: current,
                                   reason: "nothing is bound to \(service.rawValue): the daemon finds no certificate; \(fix)")])
    }

    /// Paths the daemons' syntax cannot carry are refused rather than printed broken.
    private func checkPaths() throws {
        let path = fullchain
        switch daemon {
        case .postfix where path.contains(where: { $0.isWhitespace || $0 == "," }):
            throw CertStoreError(.refused, "postfix cannot read \(path): its file lists are separated by white space and commas",
                                 hint: "keep the store under a root whose path has neither (--root)")
        case .exim4 where path.contains(where: { $0 == "$" || $0 == "\\" || $0.isNewline }):
            throw CertStoreError(.refused, "exim would expand \(path): tls_certificate is an expanded string",
                                 hint: "keep the store under a root whose path has no $ or \\ (--root)")
        case _ where path.contains(where: \.isNewline):
            throw CertStoreError(.refused, "the store path \(path.debugDescription) holds a line break", hint: "use another --root")
        default:
            return
        }
    }

    // MARK: shared rules

    /// A file parameter that must name `required`; `matches` judges a live value.
    private func fileItem(_ name: String, line: String, required: String, what: String, matches: (String) -> Bool,
                          shown: (String) -> String = { $0 }) -> Item {
        guard let config else { return Item(lines: [line]) }
        guard let value = config.value(name), !value.isEmpty else {
            return Item(comments: ["# \(name) is not set: \(what)."], lines: [line],
                        drifts: [Drift(setting: name, live: nil, required: required, reason: "\(daemon.rawValue) does not read \(service.rawValue)'s files")])
        }
        if matches(value) { return Item(comments: ["# Kept: \(name) already reads \(service.rawValue)'s files."]) }
        return Item(comments: ["# \(name) = \(shown(value)) is replaced: \(what)."], lines: [line],
                    drifts: [Drift(setting: name, live: shown(value), required: required, reason: "reads other files than \(service.rawValue)'s")])
    }

    /// A level on an ordered scale: `weaker` values (and absence) are raised to `minimum`, anything in `atLeast`
    /// is kept; an unknown value is kept and reported.
    private func levelItem(_ name: String, effective: (value: String, said: String)?, minimum: String, line: String,
                           weaker: Set<String>, atLeast: Set<String>, absentMeans: String) -> Item {
        guard config != nil else { return Item(lines: [line]) }
        guard let effective else {
            return Item(comments: ["# \(name) is not set (\(absentMeans)): raised to \(minimum)."], lines: [line],
                        drifts: [Drift(setting: name, live: nil, required: "\(minimum) or stricter", reason: absentMeans)])
        }
        let value = effective.value.lowercased()
        if weaker.contains(value) {
            return Item(comments: ["# \(effective.said) is weaker than \(minimum): raised to \(minimum)."], lines: [line],
                        drifts: [Drift(setting: name, live: effective.value, required: "\(minimum) or stricter", reason: "weaker than \(minimum)")])
        }
        if value == minimum {
            return Item(comments: ["# Kept: \(effective.said) (certstore's minimum)."])
        }
        if atLeast.contains(value) {
            return Item(comments: ["# Kept: \(effective.said) is stricter than \(minimum); certstore never lowers a security level."])
        }
        return Item(comments: ["# Left alone: \(effective.said) is not a level certstore knows; check it."],
                    drifts: [Drift(setting: name, live: effective.value, required: "\(minimum) or stricter", reason: "not a level certstore knows")])
    }

    // MARK: postfix

    private func postfix() -> [Item] {
        var items: [Item] = []
        let required = "\(privkey), \(fullchain)"
        for (prefix, role) in [("smtpd", "the SMTP server (inbound)"), ("smtp", "the SMTP client (outbound)")] {
            let name = "\(prefix)_tls_chain_files"
            var item = fileItem(name, line: "\(name) = \(required)", required: required,
                                what: "\(role) presents \(service.rawValue)'s certificate",
                                matches: { Self.postfixList($0) == [privkey, fullchain] })
            if let config {
                // The legacy pair naming the same files is the same configuration.
                let legacy = ["cert_file", "key_file"].map { config.value("\(prefix)_tls_\($0)") ?? "" }
                if config.value(name) == nil, legacy == [fullchain, privkey] {
                    item = Item(comments: ["# Kept: \(prefix)_tls_cert_file and \(prefix)_tls_key_file already read \(service.rawValue)'s files."])
                } else if !item.lines.isEmpty {
                    for suffix in ["cert_file", "key_file", "eccert_file", "eckey_file", "dcert_file", "dkey_file"] {
                        if let value = config.value("\(prefix)_tls_\(suffix)"), !value.isEmpty {
                            item.comments.append("# \(prefix)_tls_\(suffix) = \(value) may stay: postfix ignores it once \(name) is set.")
                        }
                    }
                }
            }
            items.append(item)
        }
        items.append(postfixLevel("smtpd", stricter: ["encrypt"]))
        items.append(postfixLevel("smtp", stricter: ["encrypt", "dane", "dane-only", "fingerprint", "verify", "secure"]))
        // Log level: 1 logs every TLS handshake failure (what `certstore diagnose` reads), 2 with a Verbose connector.
        let connectors = (try? store.read(SendConnectors.self).sendConnectors) ?? []
        let verbose = connectors.contains { $0.protocolLoggingLevel == "Verbose" }
        let wanted = verbose ? 2 : 1
        let why = verbose ? "a send connector has protocol logging Verbose" : "level 1 logs every TLS failure, what `certstore diagnose` reads (a Verbose connector asks for 2)"
        for prefix in ["smtp", "smtpd"] {
            let name = "\(prefix)_tls_loglevel"
            let line = "\(name) = \(wanted)"
            guard let config else {
                items.append(Item(comments: prefix == "smtp" ? ["# Log level \(wanted): \(why) (Set-SendConnector -ProtocolLoggingLevel)."] : [],
                                  lines: [line]))
                continue
            }
            let value = config.value(name)
            if let value, let level = Int(value), level >= wanted {
                items.append(Item(comments: ["# Kept: \(name) = \(value) (at least \(wanted): \(why))."]))
            } else if let value, Int(value) == nil {
                items.append(Item(comments: ["# Left alone: \(name) = \(value) is not a number."],
                                  drifts: [Drift(setting: name, live: value, required: "\(wanted) or more", reason: "not a number")]))
            } else {
                items.append(Item(comments: ["# \(name) = \(value ?? "0 (not set)") is raised to \(wanted): \(why)."], lines: [line],
                                  drifts: [Drift(setting: name, live: value, required: "\(wanted) or more", reason: why)]))
            }
        }
        return items
    }

    /// The level postfix applies: the parameter, else the legacy `*_enforce_tls`/`*_use_tls` it replaced.
    private func postfixLevel(_ prefix: String, stricter: Set<String>) -> Item {
        let name = "\(prefix)_tls_security_level"
        var effective: (String, String)?
        if let config {
            if let value = config.value(name), !value.isEmpty {
                effective = (value, "\(name) = \(value)")
            } else if config.value("\(prefix)_enforce_tls")?.lowercased() == "yes" {
                effective = ("encrypt", "\(prefix)_enforce_tls = yes (legacy, level encrypt)")
            } else if config.value("\(prefix)_use_tls")?.lowercased() == "yes" {
                effective = ("may", "\(prefix)_use_tls = yes (legacy, level may)")
            }
        }
        return levelItem(name, effective: effective, minimum: "may", line: "\(name) = may", weaker: ["none"], atLeast: stricter,
                         absentMeans: prefix == "smtpd" ? "postfix offers no STARTTLS" : "postfix never uses TLS when sending")
    }

    /// postfix list syntax: white space and commas separate.
    static func postfixList(_ value: String) -> [String] {
        value.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    }

    // MARK: dovecot

    private func dovecot() -> [Item] {
        var items: [Item] = []
        // doveconf -n prints only what differs from the defaults: an absent `ssl` is dovecot's default, yes.
        let level = config.map { config in config.value("ssl").map { ($0, "ssl = \($0)") } ?? ("yes", "ssl = yes (dovecot's default)") }
        items.append(levelItem("ssl", effective: level, minimum: "yes", line: "ssl = yes", weaker: ["no"], atLeast: ["required"],
                               absentMeans: "dovecot's default is yes"))
        let hidden = { (value: String) in value.hasPrefix("<") ? value : "(an inline key, not shown)" }
        items.append(fileItem("ssl_cert", line: "ssl_cert = <\(fullchain)", required: "<\(fullchain)",
                              what: "IMAP and POP3 present \(service.rawValue)'s certificate", matches: { $0 == "<\(fullchain)" }))
        items.append(fileItem("ssl_key", line: "ssl_key = <\(privkey)", required: "<\(privkey)",
                              what: "the key of \(service.rawValue)'s certificate", matches: { $0 == "<\(privkey)" }, shown: hidden))
        if items[1].lines.isEmpty == false || items[2].lines.isEmpty == false || config == nil {
            items[0].comments.insert("# IMAP and POP (one certificate for both in dovecot): IMAP's files, bound with `certstore enable THUMBPRINT --services IMAP,POP`.", at: 0)
        }
        // Sections override the top level for their protocol, address or name; the lines here do not reach them.
        for setting in config?.settings ?? [] where ["ssl", "ssl_cert", "ssl_key"].contains(setting.name) {
            guard let section = setting.location else { continue }
            let shown = setting.name == "ssl_key" ? hidden(setting.value) : setting.value
            let wanted = ["ssl_cert": "<\(fullchain)", "ssl_key": "<\(privkey)"][setting.name]
            if section.hasPrefix("local_name ") || section.hasPrefix("local ") || section.hasPrefix("remote ") {
                items.append(Item(comments: ["# Left alone: \(section) sets \(setting.name) = \(shown) for that name or address only."]))
            } else if setting.name == "ssl" ? setting.value == "no" : setting.value != wanted {
                items.append(Item(comments: ["# \(section) overrides \(setting.name) = \(shown): edit it there (these lines do not reach into sections)."],
                                  drifts: [Drift(setting: setting.name, live: "\(shown) in \(section)", required: wanted ?? "yes or required",
                                                 reason: "a section overrides the top level")]))
            }
        }
        return items
    }

    // MARK: exim4

    private func exim() -> [Item] {
        let macros = config?.macros
        // Debian's configuration (split or not) sets the options through MAIN_TLS_* macros; another exim takes the options.
        let debian = macros.map { $0.keys.contains { $0.hasPrefix("DEBCONF") || $0 == "CONFDIR" || $0.hasPrefix("MAIN_") } }
            ?? FileManager.default.fileExists(atPath: "/etc/exim4/conf.d")
        let certificate = config?.value("tls_certificate") ?? ""
        let key = config?.value("tls_privatekey") ?? ""
        let advertised = config?.value("tls_advertise_hosts") ?? ""
        var item = Item()
        var changes: [(option: String, macro: String, value: String)] = []
        if config != nil {
            if certificate != fullchain {
                changes.append(("tls_certificate", "MAIN_TLS_CERTIFICATE", fullchain))
                item.drifts.append(Drift(setting: "tls_certificate", live: certificate.isEmpty ? nil : certificate, required: fullchain,
                                         reason: certificate.isEmpty ? "exim presents no certificate of certstore's" : "reads other files than \(service.rawValue)'s"))
            } else {
                item.comments.append("# Kept: tls_certificate already reads \(service.rawValue)'s files.")
            }
            if key != privkey {
                changes.append(("tls_privatekey", "MAIN_TLS_PRIVATEKEY", privkey))
                item.drifts.append(Drift(setting: "tls_privatekey", live: key.isEmpty ? nil : key, required: privkey,
                                         reason: key.isEmpty ? "exim looks for the key in tls_certificate's file, which holds none" : "reads another key than \(service.rawValue)'s"))
            } else {
                item.comments.append("# Kept: tls_privatekey already reads \(service.rawValue)'s key.")
            }
            if advertised.isEmpty {
                item.drifts.append(Drift(setting: "tls_advertise_hosts", live: nil, required: "a host list (certstore sets *)",
                                         reason: "exim offers STARTTLS to nobody"))
            } else {
                item.comments.append("# Kept: tls_advertise_hosts = \(advertised) (certstore never narrows or widens it when it is set).")
            }
            if macros?["MAIN_TLS_CERTKEY"] != nil {
                item.comments.append("# MAIN_TLS_CERTKEY is set and takes precedence over MAIN_TLS_CERTIFICATE/MAIN_TLS_PRIVATEKEY: remove it.")
            }
        } else {
            changes = [("tls_certificate", "MAIN_TLS_CERTIFICATE", fullchain), ("tls_privatekey", "MAIN_TLS_PRIVATEKEY", privkey)]
        }
        let enable = config == nil || advertised.isEmpty || !changes.isEmpty
        guard enable else { return [item] }
        item.comments.insert("# SMTP: the certificate bound with `certstore enable THUMBPRINT --services SMTP` (exim reads the chain from tls_certificate).", at: 0)
        if debian {
            // A macro defined twice is a configuration error, and `==` (redefine) is one for a macro not yet defined.
            // `exim -bP macros` cannot tell which: it lists the template's own defaults too, defined after these
            // lines. exim's .ifdef can, where the lines are read.
            func define(_ macro: String, _ value: String) -> [String] {
                [".ifdef \(macro)", "\(macro) == \(value)", ".else", "\(macro) = \(value)", ".endif"]
            }
            item.comments.append("# Debian: add to /etc/exim4/exim4.conf.localmacros (non-split configuration) or /etc/exim4/conf.d/main/000_localmacros (split),")
            item.comments.append("# after any definition of the same macros, then run update-exim4.conf and restart exim4.")
            item.lines += [".ifndef MAIN_TLS_ENABLE", "MAIN_TLS_ENABLE = yes", ".endif"]
            item.lines += changes.flatMap { define($0.macro, $0.value) }
            if config == nil {
                item.comments.append("# (Another exim: main options `tls_certificate = \(fullchain)`, `tls_privatekey = \(privkey)`, `tls_advertise_hosts = *`.)")
            }
        } else {
            item.comments.append("# In the main section of exim's configuration:")
            item.lines += changes.map { "\($0.option) = \($0.value)" }
            if config == nil || advertised.isEmpty { item.lines.append("tls_advertise_hosts = *") }
        }
        return [item]
    }

    // MARK: web servers

    /// Every occurrence of a certificate directive in the named file must name `required`.
    private func directiveItem(_ name: String, line: String, required: String, what: String) -> Item {
        guard let config else { return Item(lines: [line]) }
        let occurrences = config.all(name)
        if occurrences.isEmpty {
            return Item(comments: ["# \(config.source) has no \(name): \(what)."], lines: [line],
                        drifts: [Drift(setting: name, live: nil, required: required, reason: "not in \(config.source)")])
        }
        let wrong = occurrences.filter { $0.value != required }
        if wrong.isEmpty { return Item(comments: ["# Kept: \(name) already reads \(service.rawValue)'s files (\(occurrences.map { $0.location ?? "" }.joined(separator: ", ")))."]) }
        return Item(comments: wrong.map { "# \($0.location ?? "") of \(config.source): \(name) \($0.value) is replaced by the line below." }, lines: [line],
                    drifts: wrong.map { Drift(setting: name, live: "\($0.value) (\($0.location ?? ""))", required: required,
                                              reason: "reads other files than \(service.rawValue)'s") })
    }

    private func includeNote(_ names: [String]) -> Item {
        guard let config else { return Item() }
        let includes = config.settings.filter { setting in names.contains { $0.caseInsensitiveCompare(setting.name) == .orderedSame } }
        guard !includes.isEmpty else { return Item() }
        return Item(comments: ["# \(config.source) includes other files (\(includes.map { "\($0.location ?? ""): \($0.value)" }.joined(separator: "; "))): "
                               + "certstore read only \(config.source)."])
    }

    /// A word as nginx and apache read it: quoted when it holds white space or syntax.
    static func configWord(_ text: String) -> String {
        guard text.contains(where: { $0.isWhitespace || ";{}#\"'\\".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private func nginx() -> [Item] {
        var first = directiveItem("ssl_certificate", line: "ssl_certificate \(Self.configWord(fullchain));", required: fullchain,
                                  what: "the server block presents \(service.rawValue)'s certificate and chain")
        first.comments.insert("# Web (IIS): the certificate bound with `certstore enable THUMBPRINT --services IIS`, in the server block that listens with ssl.", at: 0)
        return [first,
                directiveItem("ssl_certificate_key", line: "ssl_certificate_key \(Self.configWord(privkey));", required: privkey,
                              what: "the key of \(service.rawValue)'s certificate"),
                includeNote(["include"])]
    }

    private func apache() -> [Item] {
        var items: [Item] = []
        var engine = Item()
        if let config {
            let on = config.all("SSLEngine").filter { $0.value.lowercased() == "on" }
            if on.isEmpty {
                engine = Item(comments: ["# \(config.source) has no `SSLEngine on`: mod_ssl serves nothing there."], lines: ["SSLEngine on"],
                              drifts: [Drift(setting: "SSLEngine", live: config.all("SSLEngine").last?.value, required: "on", reason: "TLS is off in \(config.source)")])
            } else {
                engine.comments.append("# Kept: SSLEngine on (\(on.map { $0.location ?? "" }.joined(separator: ", "))).")
            }
        } else {
            engine.lines = ["SSLEngine on"]
        }
        engine.comments.insert("# Web (IIS): the certificate bound with `certstore enable THUMBPRINT --services IIS`, in the <VirtualHost> that serves https.", at: 0)
        engine.comments.insert("# Apache 2.4.8 and later read the chain from SSLCertificateFile: fullchain.pem, and no SSLCertificateChainFile.", at: 1)
        items.append(engine)
        items.append(directiveItem("SSLCertificateFile", line: "SSLCertificateFile \(Self.configWord(fullchain))", required: fullchain,
                                   what: "the virtual host presents \(service.rawValue)'s certificate and chain"))
        items.append(directiveItem("SSLCertificateKeyFile", line: "SSLCertificateKeyFile \(Self.configWord(privkey))", required: privkey,
                                   what: "the key of \(service.rawValue)'s certificate"))
        for chain in config?.all("SSLCertificateChainFile") ?? [] {
            items.append(Item(comments: ["# \(chain.location ?? ""): SSLCertificateChainFile \(chain.value): delete it (obsolete since Apache 2.4.8; the chain is in fullchain.pem)."],
                              drifts: [Drift(setting: "SSLCertificateChainFile", live: "\(chain.value) (\(chain.location ?? ""))", required: "not set",
                                             reason: "an extra chain beside fullchain.pem (obsolete since Apache 2.4.8)")]))
        }
        items.append(includeNote(["Include", "IncludeOptional"]))
        return items
    }

    /// haproxy wants the certificate and its key in one `crt` file, or the key in `<crt>.key` (its
    /// `ssl-load-extra-files`, default all, since 2.2; Debian 12 ships 2.6, which has no separate key keyword:
    /// crt-store's `key` is 3.0). certstore's files are separate, so the administrator makes two symbolic links
    /// once, through `current`: every switch reaches haproxy at its next reload, and no key is copied.
    private func haproxy() -> [Item] {
        let directory = config?.file.map { ($0 as NSString).deletingLastPathComponent } ?? "/etc/haproxy"
        let link = (directory.isEmpty ? "." : directory) + "/certstore-\(service.rawValue).pem"
        let setup = [
            "# Run once: haproxy takes the key from <crt>.key when the crt file holds none (ssl-load-extra-files, default all):",
            "#   " + ShellQuote.command(["ln", "-sfn", fullchain, link]),
            "#   " + ShellQuote.command(["ln", "-sfn", privkey, link + ".key"]),
        ]
        let line = "bind :443 ssl crt \(link)"
        let intro = "# Web (IIS): the certificate bound with `certstore enable THUMBPRINT --services IIS`, on the frontend's bind line."
        guard let config else { return [Item(comments: [intro] + setup, lines: [line])] }
        var items: [Item] = []
        let base = config.all("crt-base").last?.value
        var crts: [(path: String, location: String)] = []
        for bind in config.all("bind") {
            let words = bind.value.split(separator: " ").map(String.init)
            for (index, word) in words.enumerated() where index + 1 < words.count {
                if word == "crt" {
                    var path = words[index + 1]
                    if !path.hasPrefix("/"), let base { path = base + "/" + path }
                    crts.append((path, bind.location ?? ""))
                } else if word == "crt-list" {
                    items.append(Item(comments: ["# \(bind.location ?? ""): crt-list \(words[index + 1]) is not read by certstore: check it by hand."],
                                      drifts: [Drift(setting: "crt-list", live: "\(words[index + 1]) (\(bind.location ?? ""))", required: "crt \(link)",
                                                     reason: "certstore cannot tell what a crt-list presents")]))
                }
            }
        }
        if let extra = config.all("ssl-load-extra-files").last,
           !extra.value.split(separator: " ").contains(where: { $0 == "all" || $0 == "key" }) {
            items.append(Item(comments: ["# \(extra.location ?? ""): ssl-load-extra-files \(extra.value) keeps haproxy from reading <crt>.key: add key to it."],
                              drifts: [Drift(setting: "ssl-load-extra-files", live: "\(extra.value) (\(extra.location ?? ""))", required: "all, or a list with key",
                                             reason: "haproxy will not read the key beside the certificate")]))
        }
        if crts.isEmpty {
            items.append(Item(comments: [intro, "# \(config.source) has no bind line with crt."] + setup, lines: [line],
                              drifts: [Drift(setting: "crt", live: nil, required: link, reason: "no bind line in \(config.source) has a certificate")]))
            return items
        }
        var wrong: [(String, String, String)] = []
        for crt in crts {
            let target = try? FileManager.default.destinationOfSymbolicLink(atPath: crt.path)
            let keyTarget = try? FileManager.default.destinationOfSymbolicLink(atPath: crt.path + ".key")
            if target != fullchain {
                wrong.append((crt.path, crt.location, "\(crt.path) is not a symbolic link to \(fullchain)"))
            } else if keyTarget != privkey {
                wrong.append((crt.path, crt.location, "\(crt.path).key is not a symbolic link to \(privkey)"))
            }
        }
        if wrong.isEmpty {
            items.append(Item(comments: ["# Kept: every bind crt (\(crts.map(\.location).joined(separator: ", "))) is a link pair to \(service.rawValue)'s files."]))
        } else {
            items.append(Item(comments: [intro] + wrong.map { "# \($0.1): crt \($0.0) is replaced: \($0.2)." } + setup, lines: [line],
                              drifts: wrong.map { Drift(setting: "crt", live: "\($0.0) (\($0.1))", required: link, reason: $0.2) }))
        }
        return items
    }
}
