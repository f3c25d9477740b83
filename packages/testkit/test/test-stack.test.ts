import { describe, expect, it } from 'vitest';
import { assertDockerReachable, chooseTestStack, dockerEndpoint } from '../src/test-stack.js';

const endpoints = {
  KAFKA_BROKERS: '127.0.0.1:1',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:2',
  DATABASE_URL: 'postgres://x@127.0.0.1:3/db',
};

describe('chooseTestStack: the one place the integration stack is chosen', () => {
  it('the three endpoint variables win over TEST_STACK', () => {
    expect(chooseTestStack({ ...endpoints })).toBe('env');
    expect(chooseTestStack({ ...endpoints, TEST_STACK: 'containers' })).toBe('env');
  });

  it('TEST_STACK=containers picks testcontainers when the endpoints are not all set', () => {
    expect(chooseTestStack({ TEST_STACK: 'containers' })).toBe('containers');
    expect(chooseTestStack({ ...endpoints, DATABASE_URL: ' ', TEST_STACK: 'containers' })).toBe('containers');
  });

  it('the native stack is the default; blank values mean unset', () => {
    expect(chooseTestStack({})).toBe('native');
    expect(chooseTestStack({ TEST_STACK: '' })).toBe('native');
    expect(chooseTestStack({ TEST_STACK: 'native' })).toBe('native');
    expect(chooseTestStack({ KAFKA_BROKERS: '127.0.0.1:1' })).toBe('native');
  });

  it('an unknown TEST_STACK is refused, naming the choices', () => {
    expect(() => chooseTestStack({ TEST_STACK: 'docker' })).toThrow(
      'TEST_STACK=docker is not a test stack: use containers or native',
    );
  });
});

describe('the Docker engine check of TEST_STACK=containers', () => {
  it('reads DOCKER_HOST, else the default socket', () => {
    expect(dockerEndpoint({})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerEndpoint({ DOCKER_HOST: 'unix:///run/user/1/docker.sock' })).toEqual({
      socketPath: '/run/user/1/docker.sock',
    });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2376' })).toEqual({ host: '10.0.0.5', port: 2376 });
  });

  it('fails with one line when no engine answers', async () => {
    const socket = `/nonexistent-${process.pid}/docker.sock`;
    const failure = assertDockerReachable({ DOCKER_HOST: `unix://${socket}` });
    await expect(failure).rejects.toThrow(
      `TEST_STACK=containers needs a Docker engine, and none answers at ${socket} (ENOENT); unset TEST_STACK to use the native stack`,
    );
    const message = await failure.catch((err: Error) => err.message);
    expect(message).not.toContain('\n');
  });
});
