// jitbot on Azure Container Apps: the app (2+ replicas, probes on /readyz and /healthz), a user-assigned managed
// identity holding the least-privilege jitbot role on every subscription it searches, Azure Cache for Redis over
// TLS only, and Log Analytics for the container logs.
//
//   az deployment group create -g <rg> -f deploy/azure/main.bicep -p deploy/azure/main.parameters.json \
//     -p slackBotToken=xoxb-… slackSigningSecret=…
//
// The deploying user needs Owner (or User Access Administrator plus Contributor) on the subscriptions, because the
// template creates a custom role and assigns it there. See docs/deploy.md.
targetScope = 'resourceGroup'

@description('Name prefix for every resource.')
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

@description('Slack signing secret (HTTP mode).')
@secure()
param slackSigningSecret string

@description('Slack app-level token (xapp-…); set it only for Socket Mode.')
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

@description('Azure Cache for Redis tier: Standard and Premium are replicated; Premium adds RDB/AOF persistence.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param redisSkuName string = 'Standard'

@description('Cache size within the tier (C0-C6 for Basic/Standard, P1-P5 for Premium).')
param redisCapacity int = 1

var appPort = 3000
var opsPort = 9100
var socketMode = !empty(slackAppToken)

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

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: '${name}-${uniqueString(resourceGroup().id)}'
  location: location
  properties: {
    sku: {
      name: redisSkuName
      family: redisSkuName == 'Premium' ? 'P' : 'C'
      capacity: redisCapacity
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    redisVersion: '6'
    publicNetworkAccess: 'Enabled'
  }
}

// Access keys are base64 and may hold '/', '+' and '=': escape the key so the URL still parses.
var redisUrl = 'rediss://:${uriComponent(redis.listKeys().primaryKey)}@${redis.properties.hostName}:${redis.properties.sslPort}/0'

resource containerEnv 'Microsoft.App/managedEnvironments@2024-03-01' = {
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
  }
}

var secrets = concat(
  [
    {
      name: 'slack-bot-token'
      value: slackBotToken
    }
    {
      name: 'slack-signing-secret'
      value: slackSigningSecret
    }
    {
      name: 'redis-url'
      value: redisUrl
    }
  ],
  socketMode
    ? [
        {
          name: 'slack-app-token'
          value: slackAppToken
        }
      ]
    : []
)

var env = concat(
  [
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
      name: 'SLACK_SIGNING_SECRET'
      secretRef: 'slack-signing-secret'
    }
    {
      name: 'REDIS_URL'
      secretRef: 'redis-url'
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
  ],
  socketMode
    ? [
        {
          name: 'SLACK_APP_TOKEN'
          secretRef: 'slack-app-token'
        }
      ]
    : []
)

// The first revision pulls the image as soon as the app exists, so AcrPull must be in place before it.
module acrPull 'acr-pull.bicep' = if (!empty(containerRegistryName)) {
  name: '${name}-acr-pull'
  params: {
    registryName: containerRegistryName
    principalId: identity.properties.principalId
  }
}

resource app 'Microsoft.App/containerApps@2024-03-01' = {
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
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: appPort
        transport: 'http'
        allowInsecure: false
      }
      secrets: secrets
      registries: empty(containerRegistryName)
        ? []
        : [
            {
              server: '${containerRegistryName}${environment().suffixes.acrLoginServer}'
              identity: identity.id
            }
          ]
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

@description('Paste into the Slack app: Slash Commands and Interactivity request URL.')
output slackRequestUrl string = 'https://${app.properties.configuration.ingress.fqdn}/slack/events'

@description('The identity jitbot acts as in Azure (the requestor in JIT history).')
output identityPrincipalId string = identity.properties.principalId

output identityClientId string = identity.properties.clientId

output redisHostName string = redis.properties.hostName
