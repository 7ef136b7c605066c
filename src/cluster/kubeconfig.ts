import { KubeConfig } from '@kubernetes/client-node';

/**
 * The cluster to talk to: the given kubeconfig file, else the in-cluster service account, else
 * $KUBECONFIG; undefined when there is none.
 */
export function kubeConfig(file: string | undefined): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else if (process.env.KUBECONFIG) kc.loadFromDefault();
  else return undefined;
  return kc;
}
