// Lets the bot's managed identity pull images from an Azure Container Registry in this resource group.
targetScope = 'resourceGroup'

@description('Name of the existing container registry.')
param registryName string

@description('Object (principal) id of the bot\'s managed identity.')
param principalId string

// Built-in role "AcrPull".
var acrPullRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, principalId, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: acrPullRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
