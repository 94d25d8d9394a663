// jitbot on Azure Container Apps, private by default:
// - a virtual network with a subnet for the Container Apps environment and one for private endpoints;
// - Azure Managed Redis (redis.bicep) behind a private endpoint: TLS only, no access keys, public network access
//   disabled, AOF persistence; jitbot's managed identity is its only user (Microsoft Entra ID). Or an existing Redis
//   (existingRedisUrl) that the virtual network can reach;
// - the container app: 2+ replicas, probes on the operations port (9100, never exposed), HTTPS ingress to port 3000
//   for Slack in HTTP mode and no ingress at all in Socket Mode (slackAppToken set), where the environment is
//   internal too;
// - a user-assigned managed identity holding a least-privilege jitbot role on every subscription it searches, and
//   Log Analytics for the container logs.
//
//   az deployment group create -g <rg> -f deploy/azure/main.bicep -p deploy/azure/main.parameters.json \
//     -p slackBotToken=xoxb-… slackSigningSecret=…          (HTTP mode)
//     -p slackBotToken=xoxb-… slackAppToken=xapp-…          (Socket Mode)
//
// The deploying user needs Owner (or User Access Administrator plus Contributor) on the subscriptions, because the
// template creates a custom role and assigns it there. Every API version is a published stable one; the spec each
// comes from is listed in docs/deploy.md. Keep ternaries on one line: checkov's Bicep parser cannot read others.
targetScope = 'resourceGroup'

@description('Name prefix for every resource: lowercase letters, digits and hyphens.')
@minLength(3)
@maxLength(20)
param name string = 'jitbot'

@description('Region for every resource.')
param location string = resourceGroup().location

@description('The jitbot image, e.g. myregistry.azurecr.io/jitbot:0.1.0.')
param image string

@description('Azure Container Registry (in this resource group) holding the image; the identity gets AcrPull on it. Empty for a public image.')
param containerRegistryName string = ''

@description('Slack bot token (xoxb-…).')
@secure()
param slackBotToken string

@description('Slack signing secret: HTTP mode only (leave empty with slackAppToken).')
@secure()
param slackSigningSecret string = ''

@description('Slack app-level token (xapp-…). Set it for Socket Mode: no signing secret, no ingress, an internal environment.')
@secure()
param slackAppToken string = ''

@description('Subscriptions jitbot searches for VMs; the role is created in the first and assigned in each.')
@minLength(1)
param subscriptionIds array = [
  subscription().subscriptionId
]

@description('Channel id where approval cards are posted.')
param approvalChannel string

@description('Comma-separated Slack user ids (U…) and user-group ids (S…) allowed to approve.')
param approvers string

@description('Channel id for expiry reminders and notices; empty for the requester only.')
param oncallChannel string = ''

@description('Source IP/CIDR opened when the requester names none.')
param defaultSource string

@description('Comma-separated user/group ids allowed to enable or change JIT policies; empty for nobody.')
param admins string = ''

@description('Grant the "jitbot admin" role (enable/disable JIT, early revoke) instead of "jitbot requester".')
param grantAdminRole bool = !empty(admins)

@description('How long before the end of access to remind.')
param remindBefore string = '15m'

@description('How long a pending request waits for approval.')
param requestTtl string = '30m'

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
])
param logLevel string = 'INFO'

@description('Replicas kept running; two survive the loss of one.')
@minValue(1)
param minReplicas int = 2

@minValue(1)
param maxReplicas int = 4

@description('Address space of the virtual network.')
param vnetAddressPrefix string = '10.42.0.0/16'

@description('Subnet of the Container Apps environment (workload profiles: /27 or larger, delegated to Microsoft.App/environments).')
param appsSubnetPrefix string = '10.42.0.0/23'

@description('Subnet of the private endpoints (Redis).')
param endpointsSubnetPrefix string = '10.42.2.0/27'

@description('Azure Managed Redis SKU: Balanced_B1 and up keep a replica (high availability) and support AOF persistence.')
param redisSkuName string = 'Balanced_B1'

@description('Use this Redis instead of creating Azure Managed Redis: a rediss:// URL the virtual network can reach (see docs/deploy.md). Empty: create one.')
@secure()
param existingRedisUrl string = ''

@description('How jitbot authenticates to the existing Redis: url (password in existingRedisUrl) or entra-id (its managed identity; grant it an access policy on the cache).')
@allowed([
  'url'
  'entra-id'
])
param existingRedisAuth string = 'url'

var appPort = 3000
var opsPort = 9100
var socketMode = !empty(slackAppToken)
var createRedis = empty(existingRedisUrl)
var appsSubnetName = 'container-apps'
var endpointsSubnetName = 'private-endpoints'
var workloadProfileName = 'Consumption'

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-identity'
  location: location
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: '${name}-vnet'
  location: location
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        name: appsSubnetName
        properties: {
          addressPrefix: appsSubnetPrefix
          delegations: [
            {
              name: 'container-apps'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: endpointsSubnetName
        properties: {
          addressPrefix: endpointsSubnetPrefix
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

module managedRedis 'redis.bicep' = if (createRedis) {
  name: '${name}-redis'
  params: {
    name: name
    location: location
    skuName: redisSkuName
    endpointSubnetId: '${vnet.id}/subnets/${endpointsSubnetName}'
    virtualNetworkId: vnet.id
    principalId: identity.properties.principalId
  }
}

var redisUrl = createRedis ? managedRedis!.outputs.url : existingRedisUrl
var redisAuth = createRedis ? 'entra-id' : existingRedisAuth

resource containerEnv 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: '${name}-env'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    vnetConfiguration: {
      infrastructureSubnetId: '${vnet.id}/subnets/${appsSubnetName}'
      internal: socketMode
    }
    workloadProfiles: [
      {
        name: workloadProfileName
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

var commonSecrets = [
  {
    name: 'slack-bot-token'
    value: slackBotToken
  }
  {
    name: 'redis-url'
    value: redisUrl
  }
]

var httpSecrets = [
  {
    name: 'slack-signing-secret'
    value: slackSigningSecret
  }
]

var socketSecrets = [
  {
    name: 'slack-app-token'
    value: slackAppToken
  }
]

var secrets = concat(commonSecrets, socketMode ? socketSecrets : httpSecrets)

var commonEnv = [
  {
    name: 'PORT'
    value: string(appPort)
  }
  {
    name: 'OPS_PORT'
    value: string(opsPort)
  }
  {
    name: 'SLACK_BOT_TOKEN'
    secretRef: 'slack-bot-token'
  }
  {
    name: 'REDIS_URL'
    secretRef: 'redis-url'
  }
  {
    name: 'JITBOT_REDIS_AUTH'
    value: redisAuth
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identity.properties.clientId
  }
  {
    name: 'AZURE_SUBSCRIPTION_IDS'
    value: join(subscriptionIds, ',')
  }
  {
    name: 'JITBOT_APPROVAL_CHANNEL'
    value: approvalChannel
  }
  {
    name: 'JITBOT_APPROVERS'
    value: approvers
  }
  {
    name: 'JITBOT_ONCALL_CHANNEL'
    value: oncallChannel
  }
  {
    name: 'JITBOT_DEFAULT_SOURCE'
    value: defaultSource
  }
  {
    name: 'JITBOT_ADMINS'
    value: admins
  }
  {
    name: 'JITBOT_REMIND_BEFORE'
    value: remindBefore
  }
  {
    name: 'JITBOT_REQUEST_TTL'
    value: requestTtl
  }
  {
    name: 'LOG_LEVEL'
    value: logLevel
  }
]

var httpEnv = [
  {
    name: 'SLACK_SIGNING_SECRET'
    secretRef: 'slack-signing-secret'
  }
]

var socketEnv = [
  {
    name: 'SLACK_APP_TOKEN'
    secretRef: 'slack-app-token'
  }
]

var env = concat(commonEnv, socketMode ? socketEnv : httpEnv)

// Slack's HTTPS requests reach port 3000 only; the operations port has no ingress of any kind.
var httpIngress = {
  external: true
  targetPort: appPort
  transport: 'http'
  allowInsecure: false
}

var registries = [
  {
    server: '${containerRegistryName}${environment().suffixes.acrLoginServer}'
    identity: identity.id
  }
]

// The first revision pulls the image as soon as the app exists, so AcrPull must be in place before it.
module acrPull 'acr-pull.bicep' = if (!empty(containerRegistryName)) {
  name: '${name}-acr-pull'
  params: {
    registryName: containerRegistryName
    principalId: identity.properties.principalId
  }
}

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: name
  location: location
  dependsOn: [
    acrPull
  ]
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: containerEnv.id
    workloadProfileName: workloadProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: socketMode ? null : httpIngress
      secrets: secrets
      registries: empty(containerRegistryName) ? [] : registries
    }
    template: {
      containers: [
        {
          name: 'jitbot'
          image: image
          args: [
            'serve'
          ]
          env: env
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: opsPort
              }
              initialDelaySeconds: 10
              periodSeconds: 20
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: opsPort
              }
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
      }
    }
  }
}

module role 'role.bicep' = {
  name: '${name}-role'
  scope: subscription(subscriptionIds[0])
  params: {
    admin: grantAdminRole
    assignableSubscriptionIds: subscriptionIds
    deploymentScope: resourceGroup().id
    instance: name
  }
}

module roleAssignments 'role-assignment.bicep' = [
  for subscriptionId in subscriptionIds: {
    name: '${name}-role-${subscriptionId}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.properties.principalId
      roleDefinitionName: role.outputs.roleDefinitionName
    }
  }
]

@description('Paste into the Slack app: Slash Commands and Interactivity request URL (empty in Socket Mode).')
output slackRequestUrl string = socketMode ? '' : 'https://${app.properties.configuration.?ingress.?fqdn ?? ''}/slack/events'

@description('The identity jitbot acts as in Azure (the requestor in JIT history, the Redis user).')
output identityPrincipalId string = identity.properties.principalId

output identityClientId string = identity.properties.clientId

@description('Host name of the Azure Managed Redis this deployment created (empty with existingRedisUrl).')
output redisHostName string = createRedis ? managedRedis!.outputs.hostName : ''

@description('The custom role\'s name, unique to this deployment.')
output roleName string = role.outputs.roleName
