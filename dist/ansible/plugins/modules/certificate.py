#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: certificate
short_description: Import, remove and export certificates in a certstore certificate store
version_added: 1.0.0
description:
  - The Linux twin of M(ansible.windows.win_certificate_store) for servers managed with certstore
    (a Windows-style certificate store, C(Cert:\LocalMachine\My), indexed by SHA-1 thumbprint).
  - Drives the C(certstore) binary on the managed host through C(--format json).
  - C(state=present) imports a PKCS#12, PEM or DER file. The file is first read by C(certstore import) into a
    scratch store, so the module knows which certificates it holds without touching the real store; nothing
    is written when every certificate is already there with what the file brings (its key, the friendly name,
    exportability).
  - C(state=absent) removes a certificate by thumbprint with C(certstore remove), which refuses (and so does
    this module) while a binding, the default SMTP certificate, a dependency or a send connector would break,
    unless O(force=true). The certificate goes to certstore's trash (C(certstore restore) undoes it).
  - C(state=exported) writes a certificate to O(path) with C(certstore export), unless the file already holds it.
  - Importing a certificate without its private key on purpose (C(allow_keyless)) is not offered yet; it
    depends on certstore's certificate lifecycle work, which has not landed.
author:
  - certstore maintainers (!UNKNOWN)
options:
  state:
    description:
      - V(present) imports O(path); V(absent) removes O(thumbprint); V(exported) writes O(thumbprint) to O(path).
    type: str
    choices: [absent, exported, present]
    default: present
  path:
    description:
      - The file to import (V(present)) or to write (V(exported)).
      - Required when O(state=present) or O(state=exported).
    type: path
  password:
    description:
      - The PKCS#12 password for import, or the password to protect an exported PKCS#12 file with.
      - Passed to certstore on standard input, never on the command line.
    type: str
  thumbprint:
    description:
      - The certificate's SHA-1 thumbprint (spaces and colons are ignored, case does not matter).
      - Required when O(state=absent) or O(state=exported).
    type: str
  friendly_name:
    description:
      - Friendly name given to the imported certificates (C(certstore import --friendly-name)).
    type: str
  key_exportable:
    description:
      - Mark imported private keys exportable (C(certstore import --exportable)). certstore never takes
        exportability back, so V(false) leaves an already exportable key as it is.
    type: bool
    default: true
  allow_keyless:
    description:
      - Import an end-entity certificate into C(LocalMachine/My) even when the store has no private key for it
        (C(certstore import --allow-keyless)), which makes the KB 4495258 certificate. Without it certstore refuses
        such a file (exit status 2) and the task fails with certstore's explanation.
    type: bool
    default: false
  file_type:
    description:
      - The format of the file written when O(state=exported).
    type: str
    choices: [der, pem, pkcs12]
    default: der
  force:
    description:
      - With O(state=absent), remove even though something depends on the certificate (C(certstore remove --force)).
    type: bool
    default: false
  delete_key:
    description:
      - With O(state=absent), also move the private key to the trash (C(certstore remove --delete-key)).
    type: bool
    default: false
  store_location:
    description:
      - The store location.
    type: str
    choices: [CurrentUser, LocalMachine]
    default: LocalMachine
  store_name:
    description:
      - The store. V(CertificateAuthority) is certstore's C(CA) store.
      - On import, certstore places certificates itself (a CA certificate without a key goes to C(CA)).
    type: str
    choices: [CA, CertificateAuthority, My, Root]
    default: My
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
  - Supports check mode and diff mode.
seealso:
  - module: certstore.store.binding
  - module: certstore.store.info
  - module: ansible.windows.win_certificate_store
'''

EXAMPLES = r'''
- name: Import the renewed mail certificate with its key
  certstore.store.certificate:
    path: /root/mail-2027.pfx
    password: '{{ pfx_password }}'
    friendly_name: mail 2027
  register: renewed

- name: Remove the keyless twin (KB 4495258)
  certstore.store.certificate:
    state: absent
    thumbprint: 537F20CC940E58C96B39820CEACD5EC9D4B379A5

- name: Export a certificate as PEM
  certstore.store.certificate:
    state: exported
    thumbprint: '{{ renewed.thumbprints[0] }}'
    path: /tmp/mail.pem
    file_type: pem
'''

RETURN = r'''
thumbprints:
  description: The thumbprints of the certificates imported, removed or exported.
  returned: success
  type: list
  elements: str
  sample: ['2EE14471D7BEEDE4B863E5526AD0F0607DD5CF61']
items:
  description:
    - For O(state=present), one entry per certificate the file holds, with certstore's JSON keys (C(thumbprint),
      C(store), C(subject), C(hasPrivateKey)) and C(action), what happened (or would happen in check mode)
      C(Added), C(KeyAdded), C(Updated) or C(AlreadyPresent).
  returned: state is present
  type: list
  elements: dict
notes:
  description: What certstore says a removal changes (e.g. which certificate a send connector uses from now on).
  returned: state is absent
  type: list
  elements: str
trash_id:
  description: The trash entry of a removal (undo with C(certstore restore ID)).
  returned: state is absent and a certificate was removed
  type: str
'''

import base64
import hashlib
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.certstore.store.plugins.module_utils.certstore import (
    COMMON_ARGUMENT_SPEC, STORE_ARGUMENT_SPEC, CertStoreCLI, normalize_thumbprint, store_path)

PEM_CERTIFICATE = re.compile(rb'-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----(.*?)-----END', re.S)


def describe(store, certificate):
    if certificate is None:
        return ''
    fields = ['%s/%s' % (store, certificate.get('thumbprint')), 'HasPrivateKey=%s' % certificate.get('hasPrivateKey')]
    if certificate.get('friendlyName'):
        fields.append('FriendlyName=%s' % certificate.get('friendlyName'))
    if certificate.get('hasPrivateKey'):
        fields.append('PrivateKeyExportable=%s' % certificate.get('privateKeyExportable'))
    fields.append(certificate.get('subject') or '')
    return ' '.join(fields) + '\n'


def present(module, cli, result):
    params = module.params
    target = store_path(params)
    items = cli.read_file(params['path'], target, params['password'])
    if not items:
        module.fail_json(msg='%s holds no certificate' % params['path'])
    stores = sorted(set(item['store'] for item in items))
    current = dict((store, dict((c['thumbprint'], c) for c in cli.certificates(store))) for store in stores)
    before, after, planned = '', '', []
    seen = set()
    for item in items:
        key = (item['store'], item['thumbprint'])
        if key in seen:
            continue
        seen.add(key)
        have = current[item['store']].get(item['thumbprint'])
        will = dict(have or {}, thumbprint=item['thumbprint'], subject=item['subject'])
        if have is None:
            action = 'Added'
            will.update(hasPrivateKey=item['hasPrivateKey'], friendlyName=params['friendly_name'] or '',
                        privateKeyExportable=bool(item['hasPrivateKey'] and params['key_exportable']))
        elif item['hasPrivateKey'] and not have.get('hasPrivateKey'):
            action = 'KeyAdded'
            will.update(hasPrivateKey=True, privateKeyExportable=bool(params['key_exportable']))
        else:
            action = 'AlreadyPresent'
            if params['friendly_name'] is not None and have.get('friendlyName') != params['friendly_name']:
                action = 'Updated'
                will['friendlyName'] = params['friendly_name']
            if params['key_exportable'] and item['hasPrivateKey'] and not have.get('privateKeyExportable'):
                action = 'Updated'
                will['privateKeyExportable'] = True
        if params['friendly_name'] is not None:
            will['friendlyName'] = params['friendly_name']
        planned.append(dict(item, action=action))
        before += describe(item['store'], have)
        after += describe(item['store'], will)
    result['thumbprints'] = [item['thumbprint'] for item in planned]
    result['items'] = planned
    result['changed'] = any(item['action'] != 'AlreadyPresent' for item in planned)
    if module._diff:
        result['diff'] = dict(before=before, after=after, before_header=params['path'], after_header=params['path'])
    keyless = [item['thumbprint'] for item in planned
               if item['action'] == 'Added' and not item['hasPrivateKey'] and item['store'].endswith('/My')]
    if keyless and not params['allow_keyless'] and module.check_mode:
        module.warn('certstore refuses to put %s into LocalMachine/My without a private key (KB 4495258) unless the store '
                    'already holds its key or a pending request for it; set allow_keyless to import it anyway'
                    % ', '.join(keyless))
    if not result['changed'] or module.check_mode:
        return
    args = ['import', params['path']]
    if params['friendly_name'] is not None:
        args += ['--friendly-name', params['friendly_name']]
    if params['key_exportable']:
        args.append('--exportable')
    if params['allow_keyless']:
        args.append('--allow-keyless')
    rc, data, out, err = cli.run(args, store=target, password=params['password'])
    done = data.get('items', [])
    result['items'] = done
    result['thumbprints'] = [item['thumbprint'] for item in done]
    summary = data.get('summary', {})
    result['changed'] = sum(summary.get(k, 0) for k in ('added', 'keyAdded', 'updated')) > 0


def absent(module, cli, result):
    params = module.params
    target = store_path(params)
    thumbprint = normalize_thumbprint(module, params['thumbprint'])
    have = cli.find(target, thumbprint)
    result['thumbprints'] = []
    result['notes'] = []
    if have is None:
        return
    result['changed'] = True
    result['thumbprints'] = [thumbprint]
    if module._diff:
        result['diff'] = dict(before=describe(target, have), after='')
    args = ['remove', thumbprint]
    if params['force']:
        args.append('--force')
    if params['delete_key']:
        args.append('--delete-key')
    if module.check_mode:
        rc, data, out, err = cli.run(args + ['--dry-run'], store=target, ok=(0, 2))
        data = data or {}
        result['notes'] = data.get('notes', [])
        if not data.get('allowed', rc == 0):
            # Earlier tasks of a check-mode run changed nothing, so today's refusal may not hold after them.
            module.warn('certstore would refuse this removal in the store as it is now: %s'
                        % '; '.join(data.get('blockers', [])))
        return
    rc, data, out, err = cli.run(args, store=target)
    data = data or {}
    result['notes'] = data.get('notes', [])
    result['trash_id'] = data.get('trashId')


def file_holds(module, cli, path, thumbprint, file_type, password, want_key):
    """Does the file at `path` already hold this certificate, in this format (and with its key for PKCS#12)?"""
    if not os.path.isfile(path):
        return False
    with open(path, 'rb') as f:
        content = f.read()
    if file_type == 'der':
        return hashlib.sha1(content).hexdigest().upper() == thumbprint
    if file_type == 'pem':
        for body in PEM_CERTIFICATE.findall(content):
            try:
                der = base64.b64decode(b''.join(body.split()), validate=True)
            except (ValueError, TypeError):
                continue
            if hashlib.sha1(der).hexdigest().upper() == thumbprint:
                return True
        return False
    if content.startswith(b'-----') or hashlib.sha1(content).hexdigest().upper() == thumbprint:
        return False
    items = cli.read_file(path, 'LocalMachine/My', password, fail=False)
    return any(item['thumbprint'] == thumbprint and bool(item['hasPrivateKey']) == want_key for item in items or [])


def exported(module, cli, result):
    params = module.params
    target = store_path(params)
    thumbprint = normalize_thumbprint(module, params['thumbprint'])
    have = cli.find(target, thumbprint)
    if have is None:
        module.fail_json(msg='%s is not in %s' % (thumbprint, target), thumbprints=[])
    result['thumbprints'] = [thumbprint]
    file_type = params['file_type']
    want_key = bool(have.get('hasPrivateKey') and have.get('privateKeyExportable'))
    if file_holds(module, cli, params['path'], thumbprint, file_type, params['password'], want_key):
        return
    result['changed'] = True
    if module._diff:
        result['diff'] = dict(before_header=params['path'], after_header=params['path'],
                              before='%s\n' % ('(absent)' if not os.path.exists(params['path']) else '(another certificate or format)'),
                              after='%s as %s\n' % (thumbprint, file_type.upper()))
    if module.check_mode:
        return
    kind = {'der': 'der', 'pem': 'pem', 'pkcs12': 'pfx'}[file_type]
    password = params['password'] if file_type == 'pkcs12' else None
    cli.run(['export', thumbprint, '--out', params['path'], '--type', kind, '--force'], store=target, password=password,
            json_output=False)


def main():
    argument_spec = dict(
        state=dict(type='str', default='present', choices=['absent', 'exported', 'present']),
        path=dict(type='path'),
        password=dict(type='str', no_log=True),
        thumbprint=dict(type='str'),
        friendly_name=dict(type='str'),
        key_exportable=dict(type='bool', default=True),
        allow_keyless=dict(type='bool', default=False),
        file_type=dict(type='str', default='der', choices=['der', 'pem', 'pkcs12']),
        force=dict(type='bool', default=False),
        delete_key=dict(type='bool', default=False),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    argument_spec.update(STORE_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[
            ('state', 'present', ('path',)),
            ('state', 'absent', ('thumbprint',)),
            ('state', 'exported', ('thumbprint', 'path')),
        ],
        supports_check_mode=True,
    )
    cli = CertStoreCLI(module)
    result = dict(changed=False)
    {'present': present, 'absent': absent, 'exported': exported}[module.params['state']](module, cli, result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
