// Azure Managed Redis for jitbot, reachable only through a private endpoint in jitbot's virtual network:
// TLS only (port 10000), no access keys (the bot's managed identity authenticates with Microsoft Entra ID through
// an access policy assignment), no public network access, AOF persistence written every second, no eviction.
// Deployed by main.bicep unless it is given an existing Redis. API versions: see docs/deploy.md.
targetScope = 'resourceGroup'

@description('Name prefix (letters, digits and hyphens).')
param name string

@description('Region of the cache and its private endpoint.')
param location string

@description('Azure Managed Redis SKU, e.g. Balanced_B1.')
param skuName string

@description('Resource id of the subnet that holds the private endpoint.')
param endpointSubnetId string

@description('Resource id of the virtual network whose clients resolve the cache to its private address.')
param virtualNetworkId string

@description('Object (principal) id of jitbot\'s managed identity: the only Redis user.')
param principalId string

@description('TCP port of the database endpoint (Azure Managed Redis serves 10000).')
param port int = 10000

// Access policy assignment names are letters and digits only (AccessPolicyAssignmentNameParameter in the spec).
var accessPolicyAssignmentName = take(replace(replace(name, '-', ''), '_', ''), 50)

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: '${name}-${uniqueString(resourceGroup().id)}'
  location: location
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: 'Enabled'
    publicNetworkAccess: 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: redis
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: port
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Disabled'
    persistence: {
      aofEnabled: true
      aofFrequency: '1s'
    }
  }
}

resource botUser 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  name: accessPolicyAssignmentName
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: principalId
    }
  }
}

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.redis.azure.net'
  location: 'global'
}

resource dnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: dnsZone
  name: '${name}-vnet'
  location: 'global'
  properties: {
    virtualNetwork: {
      id: virtualNetworkId
    }
    registrationEnabled: false
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: '${name}-redis'
  location: location
  properties: {
    subnet: {
      id: endpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'redis'
        properties: {
          privateLinkServiceId: redis.id
          groupIds: [
            'redisEnterprise'
          ]
        }
      }
    ]
  }
}

resource endpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'redis'
        properties: {
          privateDnsZoneId: dnsZone.id
        }
      }
    ]
  }
}

@description('Host name of the cache (resolves to the private endpoint inside the virtual network).')
output hostName string = redis.properties.hostName

@description('REDIS_URL for jitbot: TLS, no password (JITBOT_REDIS_AUTH=entra-id supplies a token).')
output url string = 'rediss://${redis.properties.hostName}:${port}/0'
