import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { expect } from 'chai';
import { parseConfig } from '../../../shared/config.js';
import { createLogger } from '../../../shared/logger.js';
import { generateSecret, SecretBox } from '../../../shared/secrets/box.js';
import { keyFilePath, loadSecretBox } from '../../../shared/secrets/key.js';
import { makeTempDir, removeTempDir } from '../../factories.js';

describe('shared/secrets', () => {
  const box = new SecretBox(randomBytes(32));

  it('seals with a fresh IV each time and opens what it sealed', () => {
    const a = box.seal('hunter2');
    const b = box.seal('hunter2');
    expect(a).to.not.equal(b);
    expect(a).to.not.contain('hunter2');
    expect(box.open(a)).to.equal('hunter2');
    expect(box.open(box.seal(''))).to.equal('');
  });

  it('refuses an altered value and another key', () => {
    const sealed = box.seal('value');
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3], 'base64url');
    ct[0] ^= 1;
    parts[3] = ct.toString('base64url');
    expect(() => box.open(parts.join('.'))).to.throw();
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).to.throw();
    expect(() => box.open('plain text')).to.throw('not a sealed secret');
  });

  it('generates values of the asked length from letters and digits', () => {
    const v = generateSecret(40);
    expect(v).to.match(/^[A-Za-z0-9]{40}$/);
    expect(generateSecret(40)).to.not.equal(v);
  });

  it('reads the key from the environment, else a 0600 key file it creates only when asked', async () => {
    const dir = await makeTempDir();
    try {
      const logger = createLogger('silent');
      const config = parseConfig({ STAGECOACH_DATA_DIR: dir });
      expect(await loadSecretBox(config, logger, { createKeyFile: false })).to.equal(null);
      const created = await loadSecretBox(config, logger, { createKeyFile: true });
      expect(created).to.be.instanceOf(SecretBox);
      expect((await stat(keyFilePath(config))).mode & 0o777).to.equal(0o600);
      const again = await loadSecretBox(config, logger, { createKeyFile: false });
      expect(again!.open(created!.seal('x'))).to.equal('x');
      const hex = randomBytes(32).toString('hex');
      const fromEnv = parseConfig({ STAGECOACH_DATA_DIR: dir, STAGECOACH_SECRET_KEY: hex });
      const envBox = await loadSecretBox(fromEnv, logger, { createKeyFile: false });
      expect(SecretBox.fromText(hex).open(envBox!.seal('y'))).to.equal('y');
    } finally {
      await removeTempDir(dir);
    }
  });
});
