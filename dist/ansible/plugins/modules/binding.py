#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: binding
short_description: Bind services to certificates and manage send connectors in a certstore store
version_added: 1.0.0
description:
  - With O(services), binds (C(certstore enable)) or unbinds (C(certstore disable)) services to the certificate
    O(thumbprint), the way C(Enable-ExchangeCertificate) does, Exchange's refusals included (a certificate
    without a usable private key cannot be bound, C(PrivateKeyMissing)).
  - Exchange asks "Overwrite the existing default SMTP certificate?" when SMTP is bound to a second certificate;
    O(default_smtp) is the answer. KB 4495258 says to answer No, which is the default (V(keep)).
  - With O(connector), adds, changes (C(certstore connector add/set)) or removes a send connector, setting its
    C(TLSCertificateName) (given, or built from the certificate O(thumbprint) as admins do in PowerShell) and FQDN.
  - Drives the C(certstore) binary on the managed host through C(--format json); changes nothing when the store
    already is as asked.
author:
  - certstore maintainers (!UNKNOWN)
options:
  state:
    description:
      - V(present) binds the services or makes the connector as described; V(absent) unbinds the services
        (all of the certificate's when O(services) is not given) or removes the connector.
    type: str
    choices: [absent, present]
    default: present
  thumbprint:
    description:
      - The certificate (in C(LocalMachine/My)) to bind or unbind, or to build a connector's TLSCertificateName from.
    type: str
  services:
    description:
      - Services to bind or unbind.
    type: list
    elements: str
    choices: [IIS, IMAP, POP, SMTP]
  default_smtp:
    description:
      - The answer to Exchange's question "Overwrite the existing default SMTP certificate?" when SMTP is bound
        and another certificate is the default. V(keep) answers No (C(--keep-default)), V(overwrite) answers Yes
        (C(--overwrite-default)) and makes O(thumbprint) the default SMTP certificate even when it is bound already.
    type: str
    choices: [keep, overwrite]
    default: keep
  new_default:
    description:
      - With O(state=absent), the SMTP certificate that becomes the default when O(thumbprint) was the default
        (C(certstore disable --new-default)).
    type: str
  connector:
    description:
      - The send connector's name, e.g. C(Outbound to Office 365).
    type: str
  tls_certificate_name:
    description:
      - The connector's C(TLSCertificateName), C(<I>issuer<S>subject). Mutually exclusive with O(thumbprint).
    type: str
  fqdn:
    description:
      - The FQDN the connector presents.
    type: str
  store_location:
    description:
      - The store location.
    type: str
    choices: [CurrentUser, LocalMachine]
    default: LocalMachine
  root:
    description:
      - The store root directory (C(certstore --root)). Default is certstore's own (C($CERTSTORE_ROOT), else
        C(/var/lib/certstore)).
    type: path
  executable:
    description:
      - Path of the certstore binary. Default is C(certstore) found on E(PATH).
    type: path
  lock_timeout:
    description:
      - Seconds certstore waits for the store lock (C(--lock-timeout)).
    type: float
notes:
  - Supports check mode and diff mode. In check mode a certificate imported by an earlier task is not in the
    store yet, so binding it reports a change without asking certstore whether it would refuse.
  - The service account option of C(certstore enable --service-user) is not offered, because certstore does not report
    it through C(--format json) yet, so the module could not tell whether it is already set.
seealso:
  - module: certstore.store.certificate
  - module: certstore.store.info
'''

EXAMPLES = r'''
- name: Bind SMTP to the renewed certificate and keep the default SMTP certificate (KB 4495258)
  certstore.store.binding:
    thumbprint: 2EE14471D7BEEDE4B863E5526AD0F0607DD5CF61
    services: [SMTP]
    default_smtp: keep

- name: Point the Office 365 connector at that certificate
  certstore.store.binding:
    connector: Outbound to Office 365
    thumbprint: 2EE14471D7BEEDE4B863E5526AD0F0607DD5CF61
    fqdn: mail.contoso.com

- name: Unbind IIS
  certstore.store.binding:
    state: absent
    thumbprint: B8D7EBBE06376520F591660895E3648384715580
    services: [IIS]
'''

RETURN = r'''
bindings:
  description: The bindings after the task (what C(certstore bindings --format json) says), service name to thumbprints.
  returned: when O(services) is given
  type: dict
  sample: {'SMTP': ['B8D7EBBE06376520F591660895E3648384715580'], 'IIS': [], 'IMAP': [], 'POP': []}
default_smtp_certificate:
  description: The default SMTP certificate after the task.
  returned: when O(services) is given
  type: str
connector:
  description: The send connector after the task (C(certstore connector list --format json)), or null when absent.
  returned: when O(connector) is given
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.certstore.store.plugins.module_utils.certstore import (
    COMMON_ARGUMENT_SPEC, CertStoreCLI, normalize_thumbprint)

SERVICES = ['SMTP', 'IIS', 'IMAP', 'POP']


def binding_state(cli):
    data = cli.bindings()
    state = dict((service, [b['thumbprint'] for b in data.get('services', {}).get(service, [])]) for service in SERVICES)
    return state, data.get('defaultSmtpCertificate')


def bindings(module, cli, result):
    params = module.params
    thumbprint = normalize_thumbprint(module, params['thumbprint'])
    store = '%s/My' % params['store_location']
    services = [s.upper() for s in params['services'] or []]
    before, default = binding_state(cli)
    after = dict((service, list(tps)) for service, tps in before.items())
    new_default = default
    if params['state'] == 'present':
        args = None
        missing = [s for s in services if thumbprint not in before[s]]
        overwrite = params['default_smtp'] == 'overwrite' and 'SMTP' in services and default != thumbprint
        if missing or overwrite:
            args = ['enable', thumbprint, '--services', ','.join(services),
                    '--overwrite-default' if params['default_smtp'] == 'overwrite' else '--keep-default']
            for s in missing:
                after[s].append(thumbprint)
            if 'SMTP' in services and (overwrite or default is None):
                new_default = thumbprint
    else:
        bound = [s for s in SERVICES if thumbprint in before[s]]
        unbind = [s for s in (services or SERVICES) if s in bound]
        args = None
        if unbind:
            args = ['disable', thumbprint, '--services', ','.join(unbind)]
            if params['new_default']:
                args += ['--new-default', normalize_thumbprint(module, params['new_default'])]
            for s in unbind:
                after[s].remove(thumbprint)
            if 'SMTP' in unbind and default == thumbprint:
                new_default = normalize_thumbprint(module, params['new_default']) if params['new_default'] else None
    result['changed'] = args is not None
    if module._diff:
        result['diff'] = dict(before=dict(before, default_smtp_certificate=default),
                              after=dict(after, default_smtp_certificate=new_default))
    result['bindings'], result['default_smtp_certificate'] = after, new_default
    if args is None or module.check_mode:
        return
    cli.run(args, store=store)
    result['bindings'], result['default_smtp_certificate'] = binding_state(cli)


def find_connector(cli, name):
    for connector in cli.connectors():
        if connector.get('name') == name:
            return connector
    lowered = name.lower()
    for connector in cli.connectors():
        if (connector.get('name') or '').lower() == lowered:
            return connector
    return None


def connectors(module, cli, result):
    params = module.params
    name = params['connector']
    store = '%s/My' % params['store_location']
    have = find_connector(cli, name)
    fields = ('name', 'tlsCertificateName', 'fqdn')

    def view(connector):
        return dict((k, connector.get(k)) for k in fields) if connector else {}

    if params['state'] == 'absent':
        result['connector'] = None
        if have is None:
            return
        result['changed'] = True
        if module._diff:
            result['diff'] = dict(before=view(have), after={})
        if not module.check_mode:
            cli.run(['connector', 'remove', have['name']], store=store)
        return

    option_args, want = [], {}
    thumbprint = normalize_thumbprint(module, params['thumbprint'])
    if thumbprint:
        certificate = cli.find(store, thumbprint)
        if certificate is not None:
            want['tlsCertificateName'] = '<I>%s<S>%s' % (certificate.get('issuer'), certificate.get('subject'))
        elif not module.check_mode:
            module.fail_json(msg='%s is not in %s: cannot build a TLSCertificateName from it' % (thumbprint, store))
        else:
            want['tlsCertificateName'] = None  # unknown until an earlier task has really imported it
        option_args += ['--from-certificate', thumbprint]
    elif params['tls_certificate_name'] is not None:
        want['tlsCertificateName'] = params['tls_certificate_name']
        option_args += ['--tls-certificate-name', params['tls_certificate_name']]
    if params['fqdn'] is not None:
        want['fqdn'] = params['fqdn']
        option_args += ['--fqdn', params['fqdn']]

    if have is None:
        args = ['connector', 'add', name] + option_args
    elif any(have.get(k) != v for k, v in want.items()):
        args = ['connector', 'set', have['name']] + option_args
    else:
        args = None
    predicted = dict(view(have) or {'name': name, 'tlsCertificateName': None, 'fqdn': None})
    predicted.update((k, v) for k, v in want.items() if v is not None)
    result['changed'] = args is not None
    result['connector'] = dict(have or {}, **predicted)
    if module._diff:
        result['diff'] = dict(before=view(have), after=predicted)
    if args is None or module.check_mode:
        return
    rc, data, out, err = cli.run(args, store=store)
    result['connector'] = data


def main():
    argument_spec = dict(
        state=dict(type='str', default='present', choices=['absent', 'present']),
        thumbprint=dict(type='str'),
        services=dict(type='list', elements='str', choices=SERVICES),
        default_smtp=dict(type='str', default='keep', choices=['keep', 'overwrite']),
        new_default=dict(type='str'),
        connector=dict(type='str'),
        tls_certificate_name=dict(type='str'),
        fqdn=dict(type='str'),
        store_location=dict(type='str', default='LocalMachine', choices=['CurrentUser', 'LocalMachine']),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[('thumbprint', 'connector')],
        mutually_exclusive=[('services', 'connector'), ('thumbprint', 'tls_certificate_name')],
        supports_check_mode=True,
    )
    if module.params['connector'] is None and module.params['state'] == 'present' and not module.params['services']:
        module.fail_json(msg='services must name at least one service to bind')
    cli = CertStoreCLI(module)
    result = dict(changed=False)
    if module.params['connector'] is not None:
        connectors(module, cli, result)
    else:
        bindings(module, cli, result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
