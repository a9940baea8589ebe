import { type DescFile, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { service as healthService } from 'grpc-health-check';

type PackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

/** A file and everything it imports, each once. */
function withDependencies(files: DescFile[], seen = new Map<string, DescFile>()): DescFile[] {
  for (const f of files) {
    if (seen.has(f.name)) continue;
    seen.set(f.name, f);
    withDependencies(f.dependencies, seen);
  }
  return [...seen.values()];
}

/**
 * Server reflection (v1 and v1alpha) so grpcurl and similar tools can list and call our services.
 * @grpc/reflection reads a proto-loader package definition, but only each entry's serialized
 * `fileDescriptorProtos`: we hand it the descriptors embedded in the protobuf-es code, plus the one
 * grpc-health-check loaded for its own service, rather than parsing the .proto files a second time.
 */
export function serveReflection(server: Server, files: DescFile[]): void {
  const fileDescriptorProtos = withDependencies(files).map((f) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)),
  );
  const healthFiles = Object.values(healthService)[0]?.requestType.fileDescriptorProtos ?? [];
  const pkg = {
    snaptalker: { fileDescriptorProtos },
    'grpc.health.v1': { fileDescriptorProtos: healthFiles },
  } as unknown as PackageDefinition;
  new ReflectionService(pkg).addToServer(server);
}
